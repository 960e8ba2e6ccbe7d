"""The evictor's eviction policy as pure code: facts in, decisions out, no I/O and no clock.

A cached copy is evicted when it has been idle longer than its TTL (``ttl-expired``), when
its volume passed the high watermark and it is among the least recently used copies
(``capacity``, until usage is estimated below the low watermark), when the cacher needs room
for a fill (``capacity``), or when an operator asks (``manual``). A pinned copy, or one with
a live lease, is never decided; the cacher enforces the same with a compare-and-swap, so a
decision taken on a slightly stale view is refused rather than harmful. Nor is a copy on a
volume its cacher withdrew, until the volume is reported again (the cacher would mark it
evicted while its files stay on disk).

A copy is one project's copy of a commit on a volume: two projects that cache the same commit
have two copies, and nothing one project does to its copy (a lease, a pin, a read, a manual
eviction) changes what is decided about the other's. Only the volume is shared: both copies
count towards its usage and compete in least-recently-used order when it must be reclaimed.

``apply(state, fact, settings)`` folds one fact into a site's ``SiteState`` and returns what
it causes; ``explain`` says why a copy is kept or was evicted. The stream layer stores the
state per site (``to_dict``/``from_dict``), feeds it facts and a periodic ``Tick``, and sends
the decisions as ``cache.eviction.requested`` commands.
"""

# Re-exported for callers that know the policy only: one value, defined in lakecache.core.
from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.evictor.policy.apply import apply
from lakecache.evictor.policy.choose import decision_id
from lakecache.evictor.policy.explain import explain
from lakecache.evictor.policy.facts import (
    CopyEvicted,
    CopyRead,
    CopyReady,
    EvictionRefused,
    EvictRequested,
    Fact,
    LeaseAcquired,
    LeaseReleased,
    LeaseRenewed,
    PinChanged,
    SpaceNeeded,
    Tick,
    TtlChanged,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.evictor.policy.outcomes import Decision, EvictionDeclined, NothingEligible, Outcome
from lakecache.evictor.policy.settings import PolicySettings
from lakecache.evictor.policy.state import CopyState, SiteState, VolumeState, copy_key

__all__ = [
    "MAX_TTL_SECONDS",
    "CopyEvicted",
    "CopyRead",
    "CopyReady",
    "CopyState",
    "Decision",
    "EvictRequested",
    "EvictionDeclined",
    "EvictionRefused",
    "Fact",
    "LeaseAcquired",
    "LeaseReleased",
    "LeaseRenewed",
    "NothingEligible",
    "Outcome",
    "PinChanged",
    "PolicySettings",
    "SiteState",
    "SpaceNeeded",
    "Tick",
    "TtlChanged",
    "VolumeReported",
    "VolumeState",
    "VolumeWithdrawn",
    "apply",
    "copy_key",
    "decision_id",
    "explain",
]
