"""One example payload per event type; golden files are written from these once, then kept.

``python -m tests.contracts.examples`` writes the golden file of any (type, version) that has
none yet. It never overwrites: a changed golden file is a wire-format change, made by hand.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from lakecache.core.contracts import EVENTS, Event, EventData, encode
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CacheEvictionRequested,
    CacheFailed,
    CacheFillProgress,
    CachePinChanged,
    CacheReadsObserved,
    CacheReady,
    CacheRequested,
    CacheSpaceRequested,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.core.contracts.catalog import CommitCreated, DatasetCreated, DatasetDeleted, TagMoved
from lakecache.core.contracts.eviction import (
    EvictionBlocked,
    EvictionTick,
    EvictionTtlChanged,
    ManualEvictionRequested,
)
from lakecache.core.contracts.runs import (
    MetricPoint,
    RunFinished,
    RunInputRecorded,
    RunMetricsLogged,
    RunOutputRecorded,
    RunParamsLogged,
    RunStarted,
    RunTagsSet,
)
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased, LeaseRenewed

GOLDEN = Path(__file__).parent / "golden"
C1 = "3" * 64
C2 = "c" * 64
T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

EXAMPLES: list[EventData] = [
    DatasetCreated(dataset_id="ds-1", project="vision", name="imagenet-mini", owner="ada",
                   lake_url="s3://lake/vision/imagenet-mini", description="10 classes", tags=["images"]),
    DatasetDeleted(dataset_id="ds-1", project="vision", name="imagenet-mini", deleted_by="ada"),
    CommitCreated(dataset_id="ds-1", project="vision", dataset="imagenet-mini", commit_id=C1, parents=[C2],
                  message="add val split", author="ada", files=20000, bytes=8_000_000_000,
                  manifest_url="s3://lake/.lakecache/manifests/" + C1),
    TagMoved(dataset_id="ds-1", project="vision", dataset="imagenet-mini", tag="v3", commit_id=C1,
             previous_commit_id=C2, moved_by="ada"),
    CacheRequested(request_id="req-1", project="vision", dataset_id="ds-1", dataset="imagenet-mini",
                   commit_id=C1, site="dgx-a", volume="nfs1", requester="ada",
                   manifest_url="s3://lake/.lakecache/manifests/" + C1, source_grant="eyJ0eXAiOi.grant.sig"),
    CacheFillProgress(fill_id="fill-1", site="dgx-a", volume="nfs1", commit_id=C1, files_done=100,
                      files_total=20000, bytes_done=40_000_000, bytes_total=8_000_000_000,
                      rate_bytes_per_s=250_000_000.0, eta_seconds=31.8, project="vision", phase="fetching",
                      objects_done=90, objects_total=18000),
    CacheReady(fill_id="fill-1", project="vision", dataset_id="ds-1", commit_id=C1, site="dgx-a", volume="nfs1",
               path="/mnt/nfs1/imagenet-mini/" + C1, files=20000, size_bytes=8_000_000_000,
               bytes_fetched=400_000_000, bytes_deduplicated=7_600_000_000, duration_seconds=12.5, generation=0),
    CacheFailed(fill_id="fill-1", project="vision", dataset_id="ds-1", commit_id=C1, site="dgx-a", volume="nfs1",
                reason="403 Forbidden on s3://lake/x.jpg", retryable=False, failed_paths=["x.jpg"]),
    CacheSpaceRequested(site="dgx-a", volume="nfs1", bytes_needed=1_000_000, fill_id="fill-1", commit_id=C1,
                        project="vision", quota_bytes=50_000_000),
    CacheEvictionRequested(decision_id="dec-1", site="dgx-a", volume="nfs1", commit_id=C1, dataset_id="ds-1",
                           reason="ttl-expired", generation=4, explanation="idle 26h > ttl 24h", project="vision"),
    CacheEvicted(decision_id="dec-1", site="dgx-a", volume="nfs1", commit_id=C1, dataset_id="ds-1",
                 reason="ttl-expired", bytes_freed=7_900_000_000, project="vision"),
    LeaseAcquired(lease_id="lease-1", project="vision", site="dgx-a", volume="nfs1", dataset_id="ds-1",
                  commit_id=C1, holder="run-9", ttl_seconds=300, expires_at=T0, generation=1),
    LeaseRenewed(lease_id="lease-1", site="dgx-a", volume="nfs1", commit_id=C1, expires_at=T0, generation=2,
                 project="vision"),
    LeaseReleased(lease_id="lease-1", site="dgx-a", volume="nfs1", commit_id=C1, generation=3, project="vision"),
    CacheEvictionRefused(decision_id="dec-1", site="dgx-a", volume="nfs1", commit_id=C1,
                         reason="leased: a lease holds it until 2026-01-02T03:09:05+00:00", project="vision"),
    CachePinChanged(site="dgx-a", volume="nfs1", commit_id=C1, dataset_id="ds-1", project="vision", pinned=True,
                    by="ada", generation=4),
    VolumeReported(site="dgx-a", volume="nfs1", capacity_bytes=500_000_000_000, used_bytes=1_412_000_000_000,
                   ttl_seconds=86400, high_watermark=0.9, low_watermark=0.75, cached_bytes=412_000_000_000,
                   capacity_configured=True, filesystem_free_bytes=2_588_000_000_000),
    VolumeWithdrawn(site="dgx-a", volume="nfs2",
                    reason="volume path '/mnt/nfs2' may be written by other users (mode 777); only the cacher may "
                           "write a cache volume: chmod go-w /mnt/nfs2 (jobs need only read access)"),
    CacheReadsObserved(site="dgx-a", volume="nfs1", project="vision", dataset_id="ds-1", commit_id=C1, read_at=T0,
                       directories_read=2, files_read=14),
    EvictionTtlChanged(site="dgx-a", scope="dataset", target="ds-1", ttl_seconds=7 * 86400, changed_by="ada"),
    ManualEvictionRequested(request_id="req-7", site="dgx-a", volume="nfs1", commit_id=C1, requested_by="user:ada",
                            project="vision"),
    EvictionTick(partition=3, now=T0),
    EvictionBlocked(site="dgx-a", volume="nfs1", bytes_wanted=2_000_000_000,
                    explanation="2 copies hold 480 GB: 1 pinned, 1 leased by run-9"),
    DatasetRead(project="vision", site="dgx-a", volume="nfs1", dataset_id="ds-1", commit_id=C1, reader="run-9",
                cache_hit=True, bytes_read=123456),
    RunStarted(run_id="run-9", project="vision", experiment="resnet", name="lr-sweep-3", user="ada",
               code_version="9fceb02", source="train.py", tags={"team": "a"}, experiment_id="exp-1",
               start_time=T0, code_dirty=False, host="dgx-a-node3", site="dgx-a"),
    RunParamsLogged(run_id="run-9", project="vision", params={"lr": 0.001, "epochs": 10, "aug": True, "opt": "adam"},
                    batch="b-1"),
    RunMetricsLogged(run_id="run-9", project="vision", batch="b-2",
                     metrics=[MetricPoint(key="loss", value=0.25, step=100, timestamp=T0),
                              MetricPoint(key="grad norm", value=float("nan"), step=100, timestamp=T0)]),
    RunTagsSet(run_id="run-9", project="vision", tags={"stage": "tuning"}, deleted=["draft"]),
    RunFinished(run_id="run-9", project="vision", status="finished", end_time=T0),
    RunInputRecorded(run_id="run-9", project="vision", dataset_id="ds-1", dataset="imagenet-mini", commit_id=C1,
                     site="dgx-a", cache_hit=True, volume="nfs1", bytes=123456, waited_seconds=0.0, context="training"),
    RunOutputRecorded(run_id="run-9", project="vision", kind="model", uri="s3://models/resnet/9", name="resnet",
                      sha256="e" * 64, size=4096),
]


def golden_path(event_type: str, version: int) -> Path:
    return GOLDEN / event_type / f"v{version}.json"


def golden_document(data: EventData) -> dict:
    """The wire form of ``data`` in a fixed envelope: CloudEvents attributes and JSON data."""
    event = Event(data=data, source="/lakecache/golden", id="golden-1", time=T0)
    encoded = encode(event)
    return {
        "headers": {name: value.decode() for name, value in encoded.headers},
        "data": json.loads(encoded.value),
    }


def write_missing() -> list[Path]:
    written = []
    for data in EXAMPLES:
        path = golden_path(data.event_type, data.data_version)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(golden_document(data), indent=2, sort_keys=True) + "\n")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_missing():
        print("wrote", path)
    missing = set(EVENTS.types()) - {d.event_type for d in EXAMPLES}
    if missing:
        sys.exit(f"no example for: {', '.join(sorted(missing))}")
