"""Unregistering a volume: drain what the cacher holds there, then forget it.

A volume is removed only when nothing protects a copy on it: a fill running or waiting, a
live lease or a pin refuse the removal (409, naming them). A volume of the cacher's settings
(``cacher.volumes``) is refused too: the next start would register it again. Its ready copies are evicted first,
through the same compare-and-swap and announcements as any eviction (``cache.evicted``, so
every read model forgets them; on a refused volume nothing is deleted on disk, as for any
eviction there), then the volume is forgotten and announced withdrawn
(``cache.volume.withdrawn``), so the evictor stops deciding there and the gateway lists it
withdrawn. A request racing the removal fails its fill ("no volume"); request it again.
"""

from __future__ import annotations

import logging
import uuid

from lakecache.cacher import eviction, volumes
from lakecache.cacher.storage import Cacher
from lakecache.core.contracts.cache import VolumeWithdrawn
from lakecache.core.errors import Conflict, NotFound
from lakecache.core.vocabulary.clock import now

log = logging.getLogger(__name__)
_LISTED = 5


async def unregister(cacher: Cacher, name: str, by: str) -> int:
    """Remove volume ``name`` after evicting its ready copies; how many were evicted.
    ``NotFound`` for an unknown volume, ``Conflict`` while a copy there is busy or protected."""
    await volumes.get_volume(cacher, name)
    if any(spec.name == name for spec in cacher.section.volumes):
        raise Conflict(f"volume {name!r} of site {cacher.site!r} is declared in the cacher's settings "
                       "(cacher.volumes): remove it there, restart the cacher, then remove it here")
    held = await cacher.copies.on_volume(name)
    moment = now()
    busy = [c for c in held if c["state"] != "ready" or c.get("pinned") or c["lease_until"] > moment]
    if busy:
        listed = ", ".join(f"{c['project']}/{c['commit_id'][:12]} ({_why(c)})" for c in busy[:_LISTED])
        more = f" and {len(busy) - _LISTED} more" if len(busy) > _LISTED else ""
        raise Conflict(f"volume {name!r} of site {cacher.site!r} still holds {len(busy)} cop"
                       f"{'y' if len(busy) == 1 else 'ies'} in use: {listed}{more}. Wait for fills and leases to "
                       "end, unpin, then remove it again")
    decision = f"unregister-{uuid.uuid4().hex}"
    for copy in held:
        started = await cacher.copies.begin_eviction(copy["_id"], decision, "manual", copy.get("generation"))
        if started is None:
            raise Conflict(f"the copy {copy['_id']} changed while volume {name!r} was being removed (a lease or a "
                           "request); remove the volume again")
        await eviction.finish(cacher, started)
    if not await cacher.volumes.remove(name):
        raise NotFound(f"site {cacher.site!r} has no volume {name!r} (removed meanwhile)")
    cacher.usage.pop(name, None)  # a volume registered later under this name is counted afresh
    # Announced directly, like the reports it ends (a lost one: the volume is simply never
    # reported again, and a restarted consumer keeps its last word until then).
    await cacher.publisher.emit(VolumeWithdrawn(site=cacher.site, volume=name, reason=f"unregistered by {by}"))
    log.info("volume %s unregistered by %s (%d ready copies evicted)", name, by, len(held))
    return len(held)


def _why(copy: dict) -> str:
    if copy["state"] != "ready":
        return copy["state"]
    return "pinned" if copy.get("pinned") else "leased"
