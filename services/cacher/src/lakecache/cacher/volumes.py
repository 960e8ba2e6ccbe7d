"""The site's volume registry: which directories this cacher fills, and how full they are.

A volume is registered through the API (by an installation administrator: ``sites:write``) or
declared in settings (registered at start, the settings winning over an earlier registration
of the same name). Paths follow ``volume.rules`` — canonical, an existing directory this
process can write, not a system location, inside ``cacher.volume_roots`` when set, overlapping
no other volume and none of the cacher's own files. A settings volume that breaks them stops
the start, naming it; a volume registered earlier through the API is checked again at every
start and, when it breaks them now, is *refused*: kept in the registry (with the reason) but
never filled, picked, or deleted from by an eviction, until an operator fixes it. Its reports
say so: a refused volume is announced withdrawn (``cache.volume.withdrawn``) instead of reported,
so the evictor decides nothing about its copies and the gateway does not offer it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from lakecache.cacher import quotas
from lakecache.cacher.settings import VolumeSetting
from lakecache.cacher.storage import Cacher
from lakecache.cacher.volume import VolumeLayout
from lakecache.cacher.volume.rules import Place, check_placement, check_shape
from lakecache.cacher.volume.usage import VolumeUsage, reconcile
from lakecache.core.contracts.cache import VolumeReported, VolumeWithdrawn
from lakecache.core.errors import ConfigurationError, Conflict, InvalidArgument, LakeCacheError, NotFound
from lakecache.core.vocabulary.clock import now
from lakecache.core.vocabulary.eviction import DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK

_FIELDS = set(VolumeSetting.model_fields)
log = logging.getLogger(__name__)


def parse_volume(body: dict[str, Any]) -> VolumeSetting:
    """Validate a registration body; ``InvalidArgument`` names every wrong field and what is accepted."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidArgument(f"unknown field(s) {', '.join(unknown)}; a volume has {', '.join(sorted(_FIELDS))}")
    try:
        spec = VolumeSetting.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise InvalidArgument(f"invalid volume: {problems}. Names are lower-case letters, digits and inner "
                              "dashes (e.g. nfs1)") from None
    # One mark given: checked against the evictor's usual default for the other.
    high = spec.high_watermark if spec.high_watermark is not None else DEFAULT_HIGH_WATERMARK
    low = spec.low_watermark if spec.low_watermark is not None else DEFAULT_LOW_WATERMARK
    if low >= high:
        raise InvalidArgument(f"low_watermark ({low}) must be below high_watermark ({high}); unset marks "
                              f"default to {DEFAULT_HIGH_WATERMARK} and {DEFAULT_LOW_WATERMARK}")
    return spec


def reserved_places(cacher: Cacher) -> list[Place]:
    """The cacher's own directories, which no volume may overlap."""
    settings = cacher.settings
    places = [Place("the cacher's home", str(settings.home.resolve())),
              Place("the cacher's keys directory", str(settings.resolved_keys_dir()))]
    for root in (settings.resolved_lake_url(), *cacher.lake_roots):
        parts = urlsplit(root)
        if parts.scheme == "file":
            places.append(Place("a local lake", os.path.realpath(unquote(parts.path))))
    return places


def check_volume(cacher: Cacher, path: str, others: list[Place], *, writable: bool = True) -> None:
    """Refuse (``InvalidArgument``) ``path`` as a volume, by the rules of ``volume.rules``. Blocking."""
    check_shape(path)
    if writable and not os.access(path, os.W_OK | os.X_OK):
        raise InvalidArgument(f"volume path {path!r} is not writable by the cacher (uid {os.getuid()}); "
                              "fix its ownership or permissions")
    check_placement(path, roots=cacher.section.volume_roots, others=others, reserved=reserved_places(cacher))


def _place(doc: dict[str, Any]) -> Place:
    return Place(f"volume {doc['name']!r}", doc["path"])


async def register(cacher: Cacher, spec: VolumeSetting) -> dict[str, Any]:
    """Register a new volume; ``Conflict`` if the name is taken at this site, ``InvalidArgument``
    when its path breaks the volume rules."""
    async with cacher.registering:  # one at a time: two aliases registered at once must not both pass
        if await cacher.volumes.get(spec.name) is not None:
            raise Conflict(f"site {cacher.site!r} already has a volume {spec.name!r}; pick another name")
        others = [_place(v) for v in await list_volumes(cacher)]
        await asyncio.to_thread(check_volume, cacher, spec.path, others)
        try:
            doc = await cacher.volumes.add(spec)
        except Conflict:
            raise Conflict(f"site {cacher.site!r} already has a volume {spec.name!r}; pick another name") from None
        # A volume of the same name removed earlier may have left its counts behind.
        cacher.usage.pop(spec.name, None)
        cacher.charges.pop(spec.name, None)
    await report(cacher, doc)
    return doc


async def register_from_settings(cacher: Cacher) -> None:
    """Register the settings' volumes (refusing to start on one that breaks the rules, naming
    it), then check the volumes registered earlier through the API against today's rules."""
    await asyncio.to_thread(_check_roots, cacher.section.volume_roots)
    accepted: list[Place] = []
    declared = {spec.name for spec in cacher.section.volumes}
    for spec in cacher.section.volumes:
        try:
            await asyncio.to_thread(check_volume, cacher, spec.path, accepted)
        except InvalidArgument as exc:
            raise InvalidArgument(f"volume {spec.name!r} of the cacher's settings (cacher.volumes) is refused: "
                                  f"{exc}. The cacher does not start until it is fixed") from None
        accepted.append(Place(f"volume {spec.name!r}", spec.path))
        await cacher.volumes.declare(spec)
    earlier = [v for v in await list_volumes(cacher) if v["name"] not in declared]
    for doc in sorted(earlier, key=lambda v: (v.get("created_at") or now(), v["name"])):
        try:
            await asyncio.to_thread(check_volume, cacher, doc["path"], accepted, writable=False)
        except InvalidArgument as exc:
            log.error("volume %s (%s) breaks the volume rules and is refused: it is not filled or evicted from "
                      "until it is fixed: %s", doc["name"], doc["path"], exc)
            await cacher.volumes.set_refused(doc["name"], str(exc))
            continue
        accepted.append(_place(doc))
        if doc.get("refused"):
            await cacher.volumes.set_refused(doc["name"], None)


def _check_roots(roots: list[str]) -> None:
    for root in roots:
        if not root.startswith("/") or os.path.realpath(root) != root:
            raise ConfigurationError(f"cacher.volume_roots entry {root!r} is not a canonical absolute path; give the "
                                     "real path without '..', trailing '/' or symbolic links")


class VolumeRefused(NotFound):
    """The volume is registered but breaks the volume rules: nothing is filled or evicted there."""


def usable(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` if fills and evictions may use the volume, else ``VolumeRefused`` saying why."""
    if doc.get("refused"):
        raise VolumeRefused(f"volume {doc['name']!r} ({doc['path']}) is refused: {doc['refused']}")
    return doc


async def get_volume(cacher: Cacher, name: str) -> dict[str, Any]:
    """Volume ``name`` of this site, or ``NotFound`` listing the site's volumes."""
    doc = await cacher.volumes.get(name)
    if doc is None:
        names = [v["name"] for v in await list_volumes(cacher)]
        raise NotFound(f"site {cacher.site!r} has no volume {name!r}; it has: {', '.join(names) or 'none'}")
    return doc


async def list_volumes(cacher: Cacher) -> list[dict[str, Any]]:
    return await cacher.volumes.all()


async def counted_usage(cacher: Cacher, volume: dict[str, Any], *, rescan: bool = False) -> VolumeUsage:
    """LakeCache's own bytes on ``volume`` (``volume.usage``), scanned if never counted, or with
    ``rescan`` when no fill or eviction runs there."""
    usage = cacher.usage_of(volume["name"])
    if rescan or usage.pool_bytes is None:
        await reconcile(VolumeLayout.at(volume["path"]), usage)
    return usage


async def count_all(cacher: Cacher) -> None:
    """Count LakeCache's bytes and each project's charge on every usable volume (at start-up; an
    unmounted one is skipped, counted when first used)."""
    for doc in await list_volumes(cacher):
        if doc.get("refused"):
            continue
        try:
            await counted_usage(cacher, doc, rescan=True)
            await quotas.count(cacher, doc)
        except OSError as exc:
            log.warning("volume %s: its pool could not be counted: %s", doc["name"], exc)


async def free_bytes(cacher: Cacher, volume: dict[str, Any]) -> int:
    """What a fill may still write: the filesystem's free space and, with a configured capacity,
    what the capacity leaves after LakeCache's own bytes (not the filesystem's usage: a volume may
    be a directory of a shared filesystem) and the running fills' reservations."""
    space = await asyncio.to_thread(VolumeLayout.at(volume["path"]).space)
    usage = await counted_usage(cacher, volume)
    return usage.free_bytes(volume.get("capacity_bytes"), space.free_bytes)


async def pick_volume(cacher: Cacher, name: str | None) -> dict[str, Any]:
    """The named volume, else the one with the most free space (refused volumes never)."""
    if name is not None:
        return usable(await get_volume(cacher, name))
    candidates = [v for v in await list_volumes(cacher) if not v.get("refused")]
    if not candidates:
        raise NotFound(f"site {cacher.site!r} has no cache volume; register one with "
                       f"POST /api/v1/sites/{cacher.site}/volumes or the cacher's `volumes` setting")
    free = [await free_bytes(cacher, v) for v in candidates]
    return max(zip(free, candidates, strict=True), key=lambda pair: pair[0])[1]


async def volume_json(cacher: Cacher, doc: dict[str, Any]) -> dict[str, Any]:
    """A volume with space from the filesystem (``statvfs``), LakeCache's own bytes on it and the
    copies it holds."""
    space = await asyncio.to_thread(VolumeLayout.at(doc["path"]).space)
    capacity = doc.get("capacity_bytes") or space.total_bytes
    count, ready_bytes = await cacher.copies.ready_on(doc["name"])
    if doc.get("refused"):  # never scanned: it may be an alias of another volume, or not mounted
        cached, free = None, 0
    else:
        usage = await counted_usage(cacher, doc)
        cached, free = usage.held_bytes, usage.free_bytes(doc.get("capacity_bytes"), space.free_bytes)
    return {
        "site": doc["site"], "name": doc["name"], "path": doc["path"],
        "capacity_bytes": capacity, "capacity_configured": doc.get("capacity_bytes") is not None,
        "used_bytes": space.used_bytes, "cached_bytes": cached, "free_bytes": free,
        "filesystem": {"total_bytes": space.total_bytes, "free_bytes": space.free_bytes,
                       "used_bytes": space.used_bytes},
        "copies": {"ready": count, "bytes": ready_bytes},
        "ttl_seconds": doc["ttl_seconds"], "high_watermark": doc["high_watermark"],
        "low_watermark": doc["low_watermark"], "refused": doc.get("refused"),
        "projects": await quotas.projects_on(cacher, doc),
    }


async def report(cacher: Cacher, doc: dict[str, Any], *, rescan: bool = False) -> None:
    """Tell the evictor and the gateway this volume's capacity, usage and policy, or, for a refused
    volume, that it is withdrawn and why (best effort: reports repeat, so a lost one is made good).
    ``rescan`` counts LakeCache's bytes on it again first (``counted_usage``)."""
    # Published directly, not through the outbox: a report states the volume as it is now and the
    # next round repeats it, so one lost with a crash is corrected within volume_report_seconds.
    if doc.get("refused"):
        # Its space is not looked at: a refused volume may be an alias, or no longer mounted.
        announcement: VolumeReported | VolumeWithdrawn = VolumeWithdrawn(
            site=cacher.site, volume=doc["name"], reason=doc["refused"])
    else:
        usage = await counted_usage(cacher, doc, rescan=rescan)
        space = await asyncio.to_thread(VolumeLayout.at(doc["path"]).space)
        announcement = VolumeReported(
            site=cacher.site, volume=doc["name"], capacity_bytes=doc.get("capacity_bytes") or space.total_bytes,
            used_bytes=space.used_bytes, ttl_seconds=doc.get("ttl_seconds"),
            high_watermark=doc.get("high_watermark"), low_watermark=doc.get("low_watermark"),
            cached_bytes=usage.held_bytes, capacity_configured=doc.get("capacity_bytes") is not None,
            filesystem_free_bytes=space.free_bytes)
    try:
        await cacher.publisher.emit(announcement)
    except LakeCacheError as exc:
        log.warning("volume %s not reported: %s", doc["name"], exc)


async def report_by_name(cacher: Cacher, name: str) -> None:
    try:
        await report(cacher, await get_volume(cacher, name))
    except (NotFound, OSError) as exc:
        log.warning("volume %s not reported: %s", name, exc)


async def report_all(cacher: Cacher, *, rescan: bool = False) -> None:
    for doc in await list_volumes(cacher):
        try:
            await report(cacher, doc, rescan=rescan)
        except OSError as exc:  # an unmounted volume must not stop the others' reports
            log.warning("volume %s not reported: %s", doc["name"], exc)


async def report_periodically(cacher: Cacher) -> None:
    """Usage drifts with files outside LakeCache's control (and an operator may delete pool files):
    count LakeCache's bytes (and the charges where quotas apply) again and re-report every volume
    regularly."""
    while True:
        await quotas.count_with_quotas(cacher, await list_volumes(cacher))
        await report_all(cacher, rescan=True)
        await asyncio.sleep(cacher.section.volume_report_seconds)
