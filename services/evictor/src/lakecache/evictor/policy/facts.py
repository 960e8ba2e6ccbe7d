"""What the policy learns: facts about one site's volumes, copies, leases and time.

The stream layer turns events and timers into these plain values, so the policy runs without
Kafka, a clock or a cacher, and a test can replay any order of facts. Every fact names its
site because the policy keeps one state per site. A cached copy is one project's copy of a
commit on a volume, so every fact about a copy names its volume, project and commit: another
project's copy of the same commit is another copy, with its own leases, pin, use and decisions.
Times must carry a timezone: they come from different hosts and are compared with one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS


def _require_aware(fact: object, *names: str) -> None:
    for name in names:
        value: datetime = getattr(fact, name)
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{type(fact).__name__}.{name} is {value.isoformat()} without a timezone; "
                             "give timezone-aware datetimes (UTC) so facts from different hosts compare")


@dataclass(frozen=True, slots=True)
class VolumeReported:
    """The cacher's view of a volume: on registration, on a policy change and after each fill
    or eviction. ``None`` for ``ttl_seconds`` or a watermark means the evictor's default."""

    site: str
    volume: str
    capacity_bytes: int
    used_bytes: int
    ttl_seconds: int | None
    high_watermark: float | None
    low_watermark: float | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class VolumeWithdrawn:
    """The cacher no longer uses the volume (``reason``: the volume rule it breaks now): nothing is
    decided about its copies until a ``VolumeReported`` newer than this says it is usable again."""

    site: str
    volume: str
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class CopyReady:
    """A copy became ready. ``bytes_fetched`` is what the fill added to the volume; the rest of
    ``size_bytes`` was already there, shared with other copies."""

    site: str
    volume: str
    project: str
    commit_id: str
    dataset_id: str
    size_bytes: int
    bytes_fetched: int
    generation: int | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class CopyEvicted:
    site: str
    volume: str
    project: str
    commit_id: str
    decision_id: str
    bytes_freed: int
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class EvictionRefused:
    """The cacher's compare-and-swap failed: a lease, pin or generation changed since the decision."""

    site: str
    volume: str
    project: str
    commit_id: str
    decision_id: str
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class LeaseAcquired:
    site: str
    volume: str
    project: str
    commit_id: str
    lease_id: str
    expires_at: datetime
    generation: int | None
    at: datetime
    holder: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "expires_at", "at")


@dataclass(frozen=True, slots=True)
class LeaseRenewed:
    site: str
    volume: str
    project: str
    commit_id: str
    lease_id: str
    expires_at: datetime
    generation: int | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "expires_at", "at")


@dataclass(frozen=True, slots=True)
class LeaseReleased:
    site: str
    volume: str
    project: str
    commit_id: str
    lease_id: str
    generation: int | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class CopyRead:
    """A job read the project's copy; with ``volume`` None, whichever copy of the commit the site
    holds for that project."""

    site: str
    volume: str | None
    project: str
    commit_id: str
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class PinChanged:
    site: str
    volume: str
    project: str
    commit_id: str
    pinned: bool
    generation: int | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class TtlChanged:
    """An idle-TTL override for a dataset or a commit, on every volume of the site; None clears it.

    A dataset id names one project's dataset; a commit override applies to every project's copy
    of the commit (an installation administrator's decision, like every TTL override)."""

    site: str
    scope: Literal["dataset", "commit"]
    target: str
    ttl_seconds: int | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")
        if self.scope not in ("dataset", "commit"):
            raise ValueError(f"TtlChanged.scope must be 'dataset' or 'commit', got {self.scope!r}")
        if self.ttl_seconds is not None and not 0 < self.ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"TtlChanged.ttl_seconds must be 1 to {MAX_TTL_SECONDS} seconds or None (clear the "
                             f"override), got {self.ttl_seconds} for {self.scope} {self.target}")


@dataclass(frozen=True, slots=True)
class SpaceNeeded:
    """The cacher needs ``bytes_needed`` free bytes on a volume before it can fill; with
    ``project``, room under that project's quota there: its charge must fall by ``bytes_needed``,
    and only its copies may go for it (ADR 0018)."""

    site: str
    volume: str
    bytes_needed: int
    request_id: str
    at: datetime
    project: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class EvictRequested:
    """An operator asked to evict a copy; pins and leases still win."""

    site: str
    volume: str
    project: str
    commit_id: str
    requested_by: str
    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "at")


@dataclass(frozen=True, slots=True)
class Tick:
    """The evictor's own timer: the only fact that moves the policy's clock."""

    site: str
    now: datetime

    def __post_init__(self) -> None:
        _require_aware(self, "now")


Fact = (VolumeReported | VolumeWithdrawn | CopyReady | CopyEvicted | EvictionRefused | LeaseAcquired | LeaseRenewed
        | LeaseReleased | CopyRead | PinChanged | TtlChanged | SpaceNeeded | EvictRequested | Tick)
