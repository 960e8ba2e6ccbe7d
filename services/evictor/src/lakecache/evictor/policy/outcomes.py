"""What the policy answers: eviction decisions, and the cases where nothing may be evicted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakecache.core.contracts.cache import EvictionReason


@dataclass(frozen=True, slots=True)
class Decision:
    """Evict one copy. The cacher executes it with a compare-and-swap on ``generation``, pin
    and lease, so a decision made on a slightly stale view never removes a leased copy.

    ``decision_id`` is derived from the copy's incarnation and the decision's attempt number:
    processing the same facts again after a crash yields the same id, which the cacher uses to
    recognise a redelivered command. ``facts`` is what the decision was based on (JSON values).
    """

    decision_id: str
    site: str
    volume: str
    commit_id: str
    dataset_id: str
    project: str
    reason: EvictionReason
    generation: int | None
    dry_run: bool
    explanation: str
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NothingEligible:
    """A volume must shed ``bytes_wanted`` more bytes (watermark or space request) but every
    remaining copy is leased, pinned or already being evicted; nothing is deleted."""

    site: str
    volume: str
    bytes_wanted: int
    explanation: str
    at: datetime


@dataclass(frozen=True, slots=True)
class EvictionDeclined:
    """A manual eviction that may not happen (pinned, leased, already going, or no ready copy)."""

    site: str
    volume: str
    project: str
    commit_id: str
    requested_by: str
    explanation: str
    at: datetime


Outcome = Decision | NothingEligible | EvictionDeclined
