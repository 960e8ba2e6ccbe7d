"""The events that announce what happened to a copy, built from the copy's document.

The copy repository writes them with the change they announce (``Outbox.update``); the
handlers use the same builders for the answers that change nothing (a repeat of a ready copy,
a refused command).
"""

from __future__ import annotations

from typing import Any

from lakecache.core.contracts import EventData
from lakecache.core.contracts.cache import CacheEvicted, CacheFailed, CachePinChanged, CacheReady
from lakecache.core.contracts.usage import LeaseAcquired, LeaseReleased, LeaseRenewed

Doc = dict[str, Any]


def ready_event(doc: Doc) -> CacheReady:
    """``cache.ready`` of a copy whose document holds the fill's result."""
    return CacheReady(
        fill_id=doc["fill_id"], project=doc["project"], dataset_id=doc["dataset_id"], commit_id=doc["commit_id"],
        site=doc["site"], volume=doc["volume"], path=doc["path"], files=doc["files"], size_bytes=doc["size_bytes"],
        bytes_fetched=doc["bytes_fetched"], bytes_deduplicated=doc["bytes_deduplicated"],
        duration_seconds=doc["duration_seconds"], generation=doc.get("generation", 0))


def failed_event(doc: Doc, reason: str, retryable: bool, paths: list[str], volume: str | None) -> CacheFailed:
    """``cache.failed`` of a copy (or of a command refused before any copy was recorded)."""
    return CacheFailed(fill_id=doc.get("fill_id") or "none", project=doc["project"], dataset_id=doc["dataset_id"],
                       commit_id=doc["commit_id"], site=doc["site"], volume=volume, reason=reason,
                       retryable=retryable, failed_paths=paths)


def per_request(doc: Doc, data: EventData) -> list[tuple[EventData, str | None]]:
    """``data`` once per request waiting on the copy, the request id as CloudEvents subject, so
    each requester (the gateway's status URL) sees its own answer."""
    return [(data, rid) for rid in doc.get("requests", [])] or [(data, None)]


def evicted_event(doc: Doc, bytes_freed: int) -> CacheEvicted:
    decision = doc.get("eviction") or {}
    return CacheEvicted(decision_id=decision.get("decision_id", "unknown"), site=doc["site"], volume=doc["volume"],
                        commit_id=doc["commit_id"], dataset_id=doc["dataset_id"],
                        reason=decision.get("reason", "manual"), bytes_freed=bytes_freed, project=doc["project"])


# Lease and pin changes carry the copy's generation *after* the change (``generation`` here).

def lease_acquired(copy: Doc, lease: Doc, generation: int) -> LeaseAcquired:
    return LeaseAcquired(lease_id=lease["_id"], project=copy["project"], site=copy["site"], volume=copy["volume"],
                         dataset_id=copy["dataset_id"], commit_id=copy["commit_id"], holder=lease["holder"],
                         ttl_seconds=lease["ttl_seconds"], expires_at=lease["expires_at"], generation=generation)


def lease_renewed(copy: Doc, lease: Doc, generation: int) -> LeaseRenewed:
    return LeaseRenewed(lease_id=lease["_id"], site=copy["site"], volume=copy["volume"], commit_id=copy["commit_id"],
                        expires_at=lease["expires_at"], generation=generation, project=copy["project"])


def lease_released(copy: Doc, lease: Doc, generation: int) -> LeaseReleased:
    return LeaseReleased(lease_id=lease["_id"], site=copy["site"], volume=copy["volume"],
                         commit_id=copy["commit_id"], generation=generation, project=copy["project"])


def pin_changed(copy: Doc, pinned: bool, by: str, generation: int) -> CachePinChanged:
    return CachePinChanged(site=copy["site"], volume=copy["volume"], commit_id=copy["commit_id"],
                           dataset_id=copy["dataset_id"], project=copy["project"], pinned=pinned, by=by,
                           generation=generation)
