"""The site's volume registry: which directories this cacher fills, and how full they are.

A volume is registered through the API or declared in settings (registered at start, the
settings winning over an earlier registration of the same name). Paths are checked when
registered: an absolute path of an existing directory this process can write.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lakecache.cacher.settings import VolumeSetting
from lakecache.cacher.storage import Cacher, now
from lakecache.cacher.volume import VolumeLayout
from lakecache.core.contracts.cache import VolumeReported
from lakecache.core.errors import Conflict, InvalidArgument, LakeCacheError, NotFound

_FIELDS = set(VolumeSetting.model_fields)
DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK = 0.9, 0.75  # the evictor's defaults, for validation only
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
    check_path(spec.path)
    return spec


def check_path(path: str) -> None:
    where = Path(path)
    if not where.is_absolute():
        raise InvalidArgument(f"volume path {path!r} must be absolute (e.g. /mnt/nfs1)")
    if not where.is_dir():
        raise InvalidArgument(f"volume path {path!r} is not an existing directory on the cacher's host; "
                              "mount or create it first")
    if not os.access(where, os.W_OK | os.X_OK):
        raise InvalidArgument(f"volume path {path!r} is not writable by the cacher (uid {os.getuid()}); "
                              "fix its ownership or permissions")


def _document(cacher: Cacher, spec: VolumeSetting) -> dict[str, Any]:
    return {"site": cacher.site, **spec.model_dump(), "path": str(Path(spec.path).absolute())}


async def register(cacher: Cacher, spec: VolumeSetting) -> dict[str, Any]:
    """Register a new volume; ``Conflict`` if the name is taken at this site."""
    doc = {"_id": f"{cacher.site}/{spec.name}", **_document(cacher, spec), "created_at": now()}
    try:
        await cacher.volumes.insert_one(doc)
    except Conflict:
        raise Conflict(f"site {cacher.site!r} already has a volume {spec.name!r}; pick another name") from None
    await report(cacher, doc)
    return doc


async def register_from_settings(cacher: Cacher) -> None:
    for spec in cacher.section.volumes:
        check_path(spec.path)
        await cacher.volumes.update_one(
            {"_id": f"{cacher.site}/{spec.name}"},
            {"$set": _document(cacher, spec), "$setOnInsert": {"created_at": now()}}, upsert=True)


async def get_volume(cacher: Cacher, name: str) -> dict[str, Any]:
    doc = await cacher.volumes.find_one({"_id": f"{cacher.site}/{name}"})
    if doc is None:
        names = [v["name"] for v in await list_volumes(cacher)]
        raise NotFound(f"site {cacher.site!r} has no volume {name!r}; it has: {', '.join(names) or 'none'}")
    return doc


async def list_volumes(cacher: Cacher) -> list[dict[str, Any]]:
    return await cacher.volumes.find_list({"site": cacher.site}, sort=[("name", 1)])


async def free_bytes(volume: dict[str, Any]) -> int:
    """What a fill may still write: the filesystem's free space, bounded by the configured capacity."""
    space = await asyncio.to_thread(VolumeLayout.at(volume["path"]).space)
    capacity = volume.get("capacity_bytes")
    return space.free_bytes if capacity is None else max(0, min(space.free_bytes, capacity - space.used_bytes))


async def pick_volume(cacher: Cacher, name: str | None) -> dict[str, Any]:
    """The named volume, else the one with the most free space."""
    if name is not None:
        return await get_volume(cacher, name)
    candidates = await list_volumes(cacher)
    if not candidates:
        raise NotFound(f"site {cacher.site!r} has no cache volume; register one with "
                       f"POST /api/v1/sites/{cacher.site}/volumes or the cacher's `volumes` setting")
    free = [await free_bytes(v) for v in candidates]
    return max(zip(free, candidates, strict=True), key=lambda pair: pair[0])[1]


async def volume_json(cacher: Cacher, doc: dict[str, Any]) -> dict[str, Any]:
    """A volume with space from the filesystem (``statvfs``) and from the copies it holds."""
    space = await asyncio.to_thread(VolumeLayout.at(doc["path"]).space)
    capacity = doc.get("capacity_bytes") or space.total_bytes
    copies = await cacher.copies.aggregate([
        {"$match": {"site": cacher.site, "volume": doc["name"], "state": "ready"}},
        {"$group": {"_id": None, "bytes": {"$sum": "$size_bytes"}}},
    ])
    count = await cacher.copies.count_documents({"site": cacher.site, "volume": doc["name"], "state": "ready"})
    return {
        "site": doc["site"], "name": doc["name"], "path": doc["path"],
        "capacity_bytes": capacity, "capacity_configured": doc.get("capacity_bytes") is not None,
        "used_bytes": space.used_bytes, "free_bytes": max(0, min(space.free_bytes, capacity - space.used_bytes)),
        "filesystem": {"total_bytes": space.total_bytes, "free_bytes": space.free_bytes,
                       "used_bytes": space.used_bytes},
        "copies": {"ready": count, "bytes": copies[0]["bytes"] if copies else 0},
        "ttl_seconds": doc["ttl_seconds"], "high_watermark": doc["high_watermark"],
        "low_watermark": doc["low_watermark"],
    }


async def report(cacher: Cacher, doc: dict[str, Any]) -> None:
    """Tell the evictor this volume's capacity, usage and policy (best effort: reports repeat)."""
    space = await asyncio.to_thread(VolumeLayout.at(doc["path"]).space)
    try:
        await cacher.publisher.emit(VolumeReported(
            site=cacher.site, volume=doc["name"], capacity_bytes=doc.get("capacity_bytes") or space.total_bytes,
            used_bytes=space.used_bytes, ttl_seconds=doc.get("ttl_seconds"),
            high_watermark=doc.get("high_watermark"), low_watermark=doc.get("low_watermark")))
    except LakeCacheError as exc:
        log.warning("volume %s not reported: %s", doc["name"], exc)


async def report_by_name(cacher: Cacher, name: str) -> None:
    try:
        await report(cacher, await get_volume(cacher, name))
    except (NotFound, OSError) as exc:
        log.warning("volume %s not reported: %s", name, exc)


async def report_all(cacher: Cacher) -> None:
    for doc in await list_volumes(cacher):
        try:
            await report(cacher, doc)
        except OSError as exc:  # an unmounted volume must not stop the others' reports
            log.warning("volume %s not reported: %s", doc["name"], exc)


async def report_periodically(cacher: Cacher) -> None:
    """Usage drifts with files outside LakeCache's control: re-report every volume regularly."""
    while True:
        await report_all(cacher)
        await asyncio.sleep(cacher.section.volume_report_seconds)
