"""The gateway's models of the evictor's API contract (``lakecache.evictor.api``, ``docs/evictor.md``).

Inputs accept exactly what the evictor accepts; responses list every field it sends (the
explanation is ``lakecache.evictor.policy.explain``). Sites and copies are named as at the
cacher, so the path models are the cacher's. The tests validate real responses of the
service against them (``tests/gateway/test_backend_models.py``) so they cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from lakecache.core.contracts.cache import EvictionReason
from lakecache.core.contracts.fields import Slug
from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.gateway.api.backends.cacher_models import CopyPath, SitePath
from lakecache.gateway.api.common import Input

__all__ = ["MAX_TTL_SECONDS", "CopyEviction", "CopyPath", "EvictionDecision", "ExplainQuery", "LiveLease",
           "SiteEviction", "SitePath", "TtlChanged", "TtlOverride", "VolumeSummary", "VolumeWatermarks"]

#: ``unseen``: leases, reads or pins were seen but no ``cache.ready`` yet.
KnownStatus = Literal["unseen", "ready", "evicted"]


class ExplainQuery(Input):
    # Not a ``Query``: the evictor reads ``?volume=`` (empty) as a volume named "", not as none.
    volume: Slug | None = Field(None, description="The volume holding the copy; by default the first (by name) the "
                                                  "evictor knows to hold it.")


class TtlOverride(Input):
    scope: Literal["dataset", "commit"] = Field(description="Whether `target` is a dataset id or a commit id.")
    target: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$",
                        description="The dataset's id (its project's copies) or the commit's id (every project's "
                                    "copies of it): 1-128 characters, no control characters.")
    ttl_seconds: StrictInt | None = Field(None, gt=0, le=MAX_TTL_SECONDS,
                                          description="Idle seconds before the copies of the target may be evicted, "
                                                      f"at every volume of the site: 1 to {MAX_TTL_SECONDS} (10 "
                                                      "years); null or left out: clear the override.")


class TtlChanged(BaseModel):
    """202: the change is published; it applies once the evictor consumes it."""

    accepted: bool = Field(description="Always true.")
    event_id: str = Field(description="The id of the `eviction.ttl.changed` event carrying the change.")


class VolumeSummary(BaseModel):
    volume: str = Field(description="The volume.")
    capacity_bytes: int | None = Field(description="As the cacher last reported it; null before its first report.")
    used_bytes: int = Field(description="The evictor's estimate: the last report plus fills, minus evictions since.")
    high_watermark: float = Field(description="Fraction of capacity that starts reclaiming.")
    low_watermark: float = Field(description="Fraction of capacity reclaiming stops at.")
    reclaiming: bool = Field(description="Whether least recently used copies are being evicted to reach the low "
                                         "watermark.")
    ttl_seconds: int | None = Field(description="The volume's idle TTL; null: the evictor's default.")
    copies: dict[KnownStatus, int] = Field(description="Copies the evictor knows, per state.")


class SiteEviction(BaseModel):
    site: str = Field(description="The site.")
    now: datetime = Field(description="The evictor's time of this answer.")
    dry_run: bool = Field(description="Whether decisions are only explained, not carried out.")
    default_ttl_seconds: int = Field(description="The idle TTL where no override or volume TTL applies.")
    volumes: list[VolumeSummary] = Field(description="The volumes the evictor knows, by name.")


class LiveLease(BaseModel):
    lease_id: str = Field(description="The lease.")
    holder: str | None = Field(description="Who holds it; null when only its renewal was seen.")
    expires_at: datetime = Field(description="When it stops protecting the copy unless renewed.")


class VolumeWatermarks(BaseModel):
    capacity_bytes: int | None = Field(description="As the cacher last reported it.")
    used_bytes: int = Field(description="The evictor's estimate.")
    reported_used_bytes: int = Field(description="Used bytes in the cacher's last report.")
    reported_at: datetime | None = Field(description="When that report was made; null before any.")
    pending_eviction_bytes: int = Field(description="What decided but unfinished evictions are expected to free.")
    fill_ratio: float | None = Field(description="Used over capacity; null while the capacity is unknown.")
    high_watermark: float = Field(description="Fraction of capacity that starts reclaiming.")
    low_watermark: float = Field(description="Fraction of capacity reclaiming stops at.")
    reclaiming: bool = Field(description="Whether the volume is being reclaimed.")


class EvictionDecision(BaseModel):
    decision_id: str = Field(description="The decision (the cacher's command carries it).")
    reason: EvictionReason = Field(description="Why it was decided.")
    decided_at: datetime = Field(description="When.")
    about_copy_ready_at: datetime = Field(description="The `ready_at` of the copy it was about.")
    dry_run: bool = Field(description="Whether it was only explained, not sent.")
    outcome: Literal["pending", "evicted", "refused", "dry-run"] = Field(description="What became of it.")
    answered_at: datetime | None = Field(description="When the cacher answered; null while pending.")
    answer: str = Field(description="The cacher's refusal reason, if any.")
    generation: int | None = Field(description="The copy's generation the decision saw.")
    estimate_bytes: int = Field(description="What the eviction was expected to free.")
    explanation: str = Field(description="Why, in words.")
    may_redecide_at: datetime | None = Field(None, description="Sent only for pending or refused decisions: when the "
                                                               "copy may be decided again.")


class CopyEviction(BaseModel):
    site: str = Field(description="The site.")
    volume: str = Field(description="The volume holding the copy.")
    project: str = Field(description="The project whose copy this is.")
    commit_id: str = Field(description="The commit.")
    now: datetime = Field(description="The time the verdict is for.")
    state: Literal["not-ready", "ready", "evicting-pending", "evicted"] = Field(
        description="`not-ready`: leases, reads or pins seen before `cache.ready`; `evicting-pending`: an eviction "
                    "was decided and the cacher has not answered.")
    dataset_id: str | None = Field(description="The dataset's id; null until `cache.ready` was seen.")
    ready_at: datetime | None = Field(description="When the copy (last) became ready.")
    evicted_at: datetime | None = Field(description="When it was evicted; null unless evicted.")
    evicted_by: str | None = Field(description="The decision that evicted it.")
    bytes_freed: int | None = Field(description="What its eviction freed.")
    last_read: datetime | None = Field(description="The last read of it reported by a job.")
    last_use: datetime | None = Field(description="Idle time counts from here: ready, last read or end of the last "
                                                  "lease.")
    idle_seconds: float | None = Field(description="Seconds since last use; null unless ready.")
    live_leases: list[LiveLease] = Field(description="Leases protecting it now.")
    pinned: bool = Field(description="Pinned copies are never evicted.")
    generation: int | None = Field(description="The copy's lease/pin generation, as last seen.")
    ttl_seconds: int = Field(description="Its idle TTL.")
    ttl_source: Literal["commit", "dataset", "volume", "default"] = Field(description="Where the TTL comes from.")
    ttl_expires_at: datetime | None = Field(description="When it becomes due, unless used; null unless ready.")
    ttl_expires_in_seconds: float | None = Field(description="Seconds until then (negative: overdue).")
    volume_state: VolumeWatermarks = Field(description="Its volume's capacity and watermarks.")
    last_decision: EvictionDecision | None = Field(description="The last eviction decision about it, if any.")
    verdict: str = Field(description="Why it is kept, due, being evicted or evicted, in one sentence.")


class ProjectSitePath(SitePath):
    project: Slug = Field(description="The project whose copies these are.")


class ProjectEviction(BaseModel):
    items: list[CopyEviction] = Field(description="Each of the project's copies at the site the evictor knows, by "
                                                  "volume and commit.")
