"""Events to facts and decisions to commands: every copy is named with its project."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from lakecache.core.contracts import Event, EventData
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CachePinChanged,
    CacheReadsObserved,
    CacheReady,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.core.contracts.eviction import EvictionTtlChanged, ManualEvictionRequested
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased, LeaseRenewed
from lakecache.evictor import policy, translate
from lakecache.evictor.translate import CONSUMED, event_of, fact_of
from tests.contracts.examples import EXAMPLES

AT = datetime(2025, 3, 1, tzinfo=UTC)
C = "c" * 64
COPY = {"site": "dgx", "volume": "nfs1", "commit_id": C}


def event(data: EventData) -> Event[EventData]:
    return Event(data=data, source="/lakecache/test", time=AT)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch) -> None:
    monkeypatch.setattr(translate, "_warned", set())


COPY_EVENTS = [
    CacheReady(fill_id="f", project="team", dataset_id="ds", path="/v/x", files=1, size_bytes=1, bytes_fetched=1,
               bytes_deduplicated=0, duration_seconds=1.0, **COPY),
    CacheEvicted(decision_id="d", dataset_id="ds", reason="manual", bytes_freed=1, project="team", **COPY),
    CacheEvictionRefused(decision_id="d", reason="leased", project="team", **COPY),
    CachePinChanged(dataset_id="ds", project="team", pinned=True, by="ada", **COPY),
    LeaseAcquired(lease_id="l", project="team", dataset_id="ds", holder="job", ttl_seconds=60, expires_at=AT, **COPY),
    LeaseRenewed(lease_id="l", expires_at=AT, project="team", **COPY),
    LeaseReleased(lease_id="l", project="team", **COPY),
    DatasetRead(project="team", dataset_id="ds", reader="job", cache_hit=True, **COPY),
    CacheReadsObserved(project="team", dataset_id="ds", read_at=AT, files_read=1, **COPY),
    ManualEvictionRequested(request_id="r", requested_by="ada", project="team", **COPY),
]


@pytest.mark.parametrize("data", COPY_EVENTS, ids=lambda d: d.event_type)
def test_every_fact_about_a_copy_names_the_events_project(data):
    fact = fact_of(event(data))
    assert (fact.site, fact.volume, fact.project, fact.commit_id, fact.at) == ("dgx", "nfs1", "team", C, AT)


OLD_EVENTS = [data.model_copy(update={"project": None}) for data in COPY_EVENTS
              if type(data).model_fields["project"].is_required() is False]


def test_the_events_that_may_lack_a_project_are_the_ones_checked_here():
    assert sorted(type(d).__name__ for d in OLD_EVENTS) == [
        "CacheEvicted", "CacheEvictionRefused", "LeaseReleased", "LeaseRenewed", "ManualEvictionRequested"]


@pytest.mark.parametrize("data", OLD_EVENTS, ids=lambda d: d.event_type)
def test_an_event_from_before_copies_were_per_project_is_ignored_with_one_warning(data, caplog):
    with caplog.at_level(logging.WARNING, logger=translate.__name__):
        assert fact_of(event(data)) is None
        assert fact_of(event(data)) is None
    [warning] = caplog.records
    assert data.event_type in warning.getMessage() and "names no project" in warning.getMessage()


def test_a_ttl_change_above_the_maximum_is_ignored_and_one_at_it_applies(caplog):
    def change(ttl: int) -> Event[EventData]:
        return event(EvictionTtlChanged(site="dgx", scope="dataset", target="ds", ttl_seconds=ttl, changed_by="ada"))

    with caplog.at_level(logging.WARNING, logger=translate.__name__):
        assert fact_of(change(policy.MAX_TTL_SECONDS + 1)) is None
    assert f"above the maximum of {policy.MAX_TTL_SECONDS}" in caplog.text
    assert fact_of(change(policy.MAX_TTL_SECONDS)).ttl_seconds == policy.MAX_TTL_SECONDS


@pytest.mark.parametrize("model", CONSUMED, ids=lambda m: m.event_type)
def test_every_consumed_event_type_becomes_a_policy_fact(model):
    [example] = [data for data in EXAMPLES if type(data) is model]
    fact = fact_of(event(example))
    assert fact is not None, f"{model.event_type} is consumed but fact_of has no case for it"
    assert (fact.site, fact.at) == (example.site, AT)


def test_a_read_seen_on_the_volume_counts_at_its_access_time_never_after_the_event():
    earlier = AT - timedelta(minutes=4)
    seen = fact_of(event(CacheReadsObserved(project="team", dataset_id="ds", read_at=earlier, **COPY)))
    assert seen == policy.CopyRead(site="dgx", volume="nfs1", project="team", commit_id=C, at=earlier)
    # A clock ahead on the volume's server must not keep the copy in use beyond what its cacher saw.
    ahead = fact_of(event(CacheReadsObserved(project="team", dataset_id="ds", read_at=AT + timedelta(days=9),
                                             **COPY)))
    assert ahead.at == AT


def test_a_withdrawn_volume_becomes_a_fact_with_its_reason():
    fact = fact_of(event(VolumeWithdrawn(site="dgx", volume="nfs2", reason="an alias of nfs1")))
    assert fact == policy.VolumeWithdrawn(site="dgx", volume="nfs2", reason="an alias of nfs1", at=AT)


def test_a_decision_becomes_a_command_naming_the_copys_project():
    decision = policy.Decision(decision_id="d", site="dgx", volume="nfs1", commit_id=C, dataset_id="ds",
                               project="team", reason="ttl-expired", generation=3, dry_run=False,
                               explanation="idle", facts={})
    command = event_of(decision)
    assert (command.project, command.commit_id, command.volume, command.generation) == ("team", C, "nfs1", 3)


def _report(**fields) -> VolumeReported:
    return VolumeReported(site="dgx", volume="nfs1", capacity_bytes=1000, used_bytes=50_000, **fields)


def test_a_configured_capacity_is_compared_with_lakecaches_own_bytes_not_the_shared_filesystems():
    fact = fact_of(event(_report(cached_bytes=300, capacity_configured=True, filesystem_free_bytes=10**6)))
    assert (fact.capacity_bytes, fact.used_bytes) == (1000, 300)


@pytest.mark.parametrize("fields", [{}, {"cached_bytes": 300, "capacity_configured": False},
                                    {"capacity_configured": True}],
                         ids=["report-from-before", "capacity-of-the-filesystem", "uncounted"])
def test_without_a_configured_capacity_or_a_count_the_filesystems_usage_is_compared(fields):
    assert fact_of(event(_report(**fields))).used_bytes == 50_000
