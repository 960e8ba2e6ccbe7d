"""Per-project quotas on a volume: what each project is charged there, and whether a fill fits.

A project is charged the distinct content its ready copies' views reference on the volume, each
content once however many of its copies hold it, and in full for every project holding it
(ADR 0018, ``volume.charges``). A quota (``quotas`` of the volume's document, set by an
installation administrator) bounds that charge; a volume's capacity still bounds its pool.

A fill is admitted under its project's quota when the charge, what the project's running fills
reserved, and what the commit adds (its contents the project's views do not reference yet) fit.
What the commit adds is read from its manifest before the fill starts: the fill reads the
manifest again when it plans (one more GET of the manifest, not of its content).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass
from typing import Any

from lakecache.cacher.fill import FillError
from lakecache.cacher.lake import Source, manifest_chunks
from lakecache.cacher.settings import MAX_CAPACITY_BYTES
from lakecache.cacher.storage import Cacher
from lakecache.cacher.volume import VolumeLayout
from lakecache.cacher.volume.charges import Inodes, VolumeCharges, unreferenced_bytes, view_inodes
from lakecache.cacher.volume.layout import check_name
from lakecache.core.errors import InvalidArgument
from lakecache.core.manifest import iter_manifest

log = logging.getLogger(__name__)


def check_project(project: str) -> str:
    try:
        return check_name("project", project)
    except ValueError as exc:
        raise InvalidArgument(f"{exc}; a project name is lower-case letters, digits and inner dashes") from None


def parse_quota(body: dict[str, Any]) -> int:
    """The ``quota_bytes`` of a quota body; ``InvalidArgument`` naming what is accepted."""
    unknown = sorted(set(body) - {"quota_bytes"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) {', '.join(unknown)}; a quota has quota_bytes")
    quota = body.get("quota_bytes")
    if isinstance(quota, bool) or not isinstance(quota, int) or not 0 < quota <= MAX_CAPACITY_BYTES:
        raise InvalidArgument(f"quota_bytes must be a whole number of bytes from 1 to {MAX_CAPACITY_BYTES}, got "
                              f"{quota!r}; to remove a quota, DELETE it")
    return quota


def quota_of(volume: dict[str, Any], project: str) -> int | None:
    return (volume.get("quotas") or {}).get(project)


# Counting


async def _walk(layout: VolumeLayout, views: list[tuple[str, str, str]]) -> dict[str, Inodes]:
    def walk() -> dict[str, Inodes]:
        found: dict[str, Inodes] = {}
        for project, dataset, commit_id in views:
            try:
                found.setdefault(project, {}).update(view_inodes(layout, project, dataset, commit_id))
            except FileNotFoundError:  # evicted since it was listed: its eviction recounts the project
                continue
        return found

    return await asyncio.to_thread(walk)


async def count(cacher: Cacher, volume: dict[str, Any]) -> VolumeCharges:
    """Count every project's charge on ``volume`` again by walking its ready copies' views."""
    charges = cacher.charges_of(volume["name"])
    async with charges.lock:
        views = await cacher.copies.ready_views(volume["name"])
        charges.set_all(await _walk(VolumeLayout.at(volume["path"]), views))
    return charges


async def counted(cacher: Cacher, volume: dict[str, Any]) -> VolumeCharges:
    """The charges on ``volume``, counted first if they never were."""
    charges = cacher.charges_of(volume["name"])
    return charges if charges.counted else await count(cacher, volume)


async def recount_project(cacher: Cacher, volume: dict[str, Any], project: str) -> None:
    """Count ``project``'s charge on ``volume`` again (after one of its copies was evicted: what
    that copy alone referenced is no longer charged)."""
    charges = cacher.charges_of(volume["name"])
    if not charges.counted:
        return  # counted in full when first needed
    async with charges.lock:
        views = await cacher.copies.ready_views(volume["name"], project)
        charges.set_project(project, (await _walk(VolumeLayout.at(volume["path"]), views)).get(project, {}))


async def count_with_quotas(cacher: Cacher, volumes: list[dict[str, Any]]) -> None:
    """Count again the volumes where a quota is set (a periodic round): a crash or an operator's
    deletion does not leave a charge wrong for longer than one round."""
    for doc in volumes:
        if doc.get("refused") or not doc.get("quotas"):
            continue
        try:
            await count(cacher, doc)
        except OSError as exc:
            log.warning("volume %s: the projects' charges could not be counted: %s", doc["name"], exc)


async def add_view(cacher: Cacher, volume: dict[str, Any], project: str, dataset: str, commit_id: str) -> None:
    """A copy became ready (the caller holds ``charges.lock``): its view's content is charged."""
    charges = cacher.charges_of(volume["name"])
    try:
        inodes = await asyncio.to_thread(view_inodes, VolumeLayout.at(volume["path"]), project, dataset, commit_id)
    except OSError as exc:  # the next count corrects it
        log.warning("the view of %s/%s@%s on volume %s could not be counted: %s", project, dataset, commit_id,
                    volume["name"], exc)
        return
    charges.add(project, inodes)


# Admission


@dataclass(frozen=True)
class QuotaCheck:
    """A fill weighed against its project's quota on a volume."""

    project: str
    volume: str
    quota_bytes: int
    charged_bytes: int
    reserved_bytes: int
    adds_bytes: int

    @property
    def fits(self) -> bool:
        return self.charged_bytes + self.reserved_bytes + self.adds_bytes <= self.quota_bytes

    @property
    def over_bytes(self) -> int:
        """How far the charge must fall for the fill to fit."""
        return max(0, self.charged_bytes + self.reserved_bytes + self.adds_bytes - self.quota_bytes)

    def text(self) -> str:
        reserved = f" ({self.reserved_bytes} more reserved by its running fills)" if self.reserved_bytes else ""
        return (f"project {self.project}'s quota on volume {self.volume} is {self.quota_bytes} bytes; it is charged "
                f"{self.charged_bytes}{reserved} and the commit adds {self.adds_bytes}, so "
                f"{self.over_bytes} bytes of the project's copies there must go first")


async def commit_contents(cacher: Cacher, doc: dict[str, Any]) -> dict[str, int]:
    """Each distinct content (sha256 → size) of the copy's commit, from its manifest."""
    source = Source.from_document(doc["source"], cacher.lake_roots)
    contents: dict[str, int] = {}
    try:
        async for item in iter_manifest(manifest_chunks(cacher.open_store, source, doc["commit_id"])):
            contents[item.sha256] = item.size
    except (ValueError, zlib.error) as exc:
        raise FillError(f"the manifest of commit {doc['commit_id']} cannot be read: {exc}", retryable=False,
                        failed_paths=[doc["manifest_url"]]) from exc
    return contents


async def weigh(cacher: Cacher, doc: dict[str, Any], volume: dict[str, Any],
                contents: dict[str, int]) -> QuotaCheck | None:
    """The copy's fill against its project's quota on ``volume``; None without a quota."""
    project = doc["project"]
    quota = quota_of(volume, project)
    if quota is None:
        return None
    charges = await counted(cacher, volume)
    adds = await asyncio.to_thread(unreferenced_bytes, VolumeLayout.at(volume["path"]), contents,
                                   dict(charges.referenced(project)))
    return QuotaCheck(project, volume["name"], quota, charges.charged_bytes(project),
                      charges.reserved_bytes(project), adds)


def recheck(cacher: Cacher, check: QuotaCheck, volume: dict[str, Any]) -> QuotaCheck:
    """``check`` with today's quota, charge and reservations (what the commit adds kept): cheap
    enough to poll while evictions lower the charge."""
    charges = cacher.charges_of(check.volume)
    quota = quota_of(volume, check.project)
    return QuotaCheck(check.project, check.volume, check.quota_bytes if quota is None else quota,
                      charges.charged_bytes(check.project), charges.reserved_bytes(check.project), check.adds_bytes)


# Reading


def entry(charges: VolumeCharges | None, volume: dict[str, Any], project: str) -> dict[str, Any]:
    """One project's quota and charge on one volume, as the API shows it."""
    counted_ = charges is not None and charges.counted
    return {"site": volume["site"], "volume": volume["name"], "project": project,
            "quota_bytes": quota_of(volume, project),
            "charged_bytes": charges.charged_bytes(project) if counted_ else None,
            "shared_bytes": charges.shared_bytes(project) if counted_ else None}


async def projects_on(cacher: Cacher, volume: dict[str, Any]) -> list[dict[str, Any]]:
    """Every project with a quota or a charge on ``volume``, by name (a refused volume is not
    counted: its charges are null)."""
    charges = None if volume.get("refused") else await counted(cacher, volume)
    names = set(volume.get("quotas") or {}) | set(charges.charged_projects() if charges else [])
    return [entry(charges, volume, name) for name in sorted(names)]


async def project_on(cacher: Cacher, volume: dict[str, Any], project: str) -> dict[str, Any]:
    charges = None if volume.get("refused") else await counted(cacher, volume)
    return entry(charges, volume, project)
