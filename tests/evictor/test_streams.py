"""The evictor's Faust agents without a broker (``agent.test_context()``).

Each agent is fed what its Kafka consumer would hand it: the CloudEvent's JSON value, its
``ce_*`` headers and the site as key, on the site's partition, decoded by the source topic's
own decoder. Faust's producer is replaced by one that records what the app would send to
Kafka: commands on the sites' command topics, the clock's ticks and the table's changelog.
The event builders here are shared with the Kafka tests (``test_streams_kafka.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP, RecordMetadata
from prometheus_client import CollectorRegistry

from lakecache.core.contracts import Event, EventData, decode, encode
from lakecache.core.contracts.cache import (
    CacheEvictionRequested,
    CacheReadsObserved,
    CacheReady,
    CacheSpaceRequested,
)
from lakecache.core.contracts.eviction import EvictionBlocked, EvictionTick
from lakecache.core.contracts.topics import CACHE_COMMANDS, EVICTION_TICKS
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased
from lakecache.evictor.policy import SiteState, copy_key
from lakecache.evictor.settings import EvictorSettings
from lakecache.evictor.sites import EvictorMetrics
from lakecache.evictor.streams import TABLE, EvictorApp, partition_of

PARTITIONS = 6
VOLUME, PROJECT, DATASET = "fast", "team", "ds-1"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
TTL = HOUR
#: The clock never fires by itself in these tests: ticks are sent with ``send_ticks``.
EVICTOR = {"tick_seconds": 3600, "default_ttl_seconds": int(TTL.total_seconds())}


# --- events, as the cacher and the SDK publish them -------------------------------------------

def commit(n: int) -> str:
    return f"{n:064x}"


def ready(site: str, commit_id: str, at: datetime, *, fetched: int = 100, project: str = PROJECT) -> Event[EventData]:
    data = CacheReady(fill_id=f"fill-{uuid.uuid4().hex[:8]}", project=project, dataset_id=DATASET,
                      commit_id=commit_id, site=site, volume=VOLUME, path=f"/cache/{commit_id[:12]}", files=1,
                      size_bytes=fetched, bytes_fetched=fetched, bytes_deduplicated=0, duration_seconds=1.0)
    return Event(data=data, source="/lakecache/cacher", time=at)


def read(site: str, commit_id: str, at: datetime) -> Event[EventData]:
    data = DatasetRead(project=PROJECT, site=site, volume=VOLUME, dataset_id=DATASET, commit_id=commit_id,
                       reader="job-1", cache_hit=True)
    return Event(data=data, source="/lakecache/sdk", time=at)


def read_on_volume(site: str, commit_id: str, read_at: datetime, at: datetime) -> Event[EventData]:
    """What the cacher says when it finds the copy's view read at ``read_at`` (its look, at ``at``)."""
    data = CacheReadsObserved(project=PROJECT, site=site, volume=VOLUME, dataset_id=DATASET, commit_id=commit_id,
                              read_at=read_at, files_read=1)
    return Event(data=data, source="/lakecache/cacher", time=at)


def lease(site: str, commit_id: str, at: datetime, until: datetime, lease_id: str = "lease-1",
          project: str = PROJECT) -> Event[EventData]:
    data = LeaseAcquired(lease_id=lease_id, project=project, site=site, volume=VOLUME, dataset_id=DATASET,
                         commit_id=commit_id, holder="job-7", ttl_seconds=max(1, int((until - at).total_seconds())),
                         expires_at=until)
    return Event(data=data, source="/lakecache/sdk", time=at)


def release(site: str, commit_id: str, at: datetime, lease_id: str = "lease-1") -> Event[EventData]:
    data = LeaseReleased(lease_id=lease_id, site=site, volume=VOLUME, commit_id=commit_id, project=PROJECT)
    return Event(data=data, source="/lakecache/sdk", time=at)


def space(site: str, at: datetime, bytes_needed: int, fill_id: str = "fill-new") -> Event[EventData]:
    data = CacheSpaceRequested(site=site, volume=VOLUME, bytes_needed=bytes_needed, fill_id=fill_id,
                               commit_id=commit(999))
    return Event(data=data, source="/lakecache/cacher", time=at)


def sites_on_distinct_partitions(count: int, prefix: str = "site") -> list[str]:
    """``count`` site names whose events (hence states) land on different partitions."""
    sites: dict[int, str] = {}
    tag = uuid.uuid4().hex[:8]
    n = 0
    while len(sites) < count:
        name = f"{prefix}-{tag}-{n}"
        sites.setdefault(partition_of(name, PARTITIONS), name)
        n += 1
    return list(sites.values())


def evictor_settings(home: Path, bus_url: str = "kafka://127.0.0.1:9", **evictor: Any) -> EvictorSettings:
    return EvictorSettings(bus_url=bus_url, home=home, evictor={**EVICTOR, **evictor})


def site_state(table: Any, site: str) -> SiteState:
    return SiteState.from_dict(table[site])


# --- Faust without a broker -------------------------------------------------------------------

@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None
    headers: list[tuple[str, bytes]]

    def event(self) -> Event[EventData]:
        return decode(self.headers, self.value)


@dataclass
class RecordingProducer:
    """Stands in for Faust's Kafka producer (``app.producer``): what would go to the broker
    is recorded; sends are acknowledged at once."""

    sent: list[Sent] = field(default_factory=list)
    changelog: list[faust.types.PendingMessage] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    async def maybe_start(self) -> None:
        return None

    async def create_topic(self, topic: str, partitions: int, replication: int, **options: Any) -> None:
        self.created[topic] = partitions

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any, *, transactional_id: str | None = None) -> asyncio.Future:
        self.sent.append(Sent(topic, key, value, partition, list(headers or [])))
        acked: asyncio.Future = asyncio.get_running_loop().create_future()
        tp = TP(topic, partition or 0)
        acked.set_result(RecordMetadata(topic=topic, partition=tp.partition, topic_partition=tp,
                                        offset=len(self.sent) - 1))
        return acked

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> RecordMetadata:
        return await (await self.send(*args, **kwargs))

    def send_soon(self, pending: faust.types.FutureMessage) -> None:
        # Tables write their changelog through the buffer; kept, never delivered.
        self.changelog.append(pending.message)

    async def flush(self) -> None:
        return None

    def on(self, topic: str) -> list[Sent]:
        return [message for message in self.sent if message.topic == topic]

    def commands(self) -> list[Sent]:
        prefix = CACHE_COMMANDS.name.split("{")[0]
        return [message for message in self.sent if message.topic.startswith(prefix)]


class ConsumedChannel(faust.Channel):
    """An in-memory channel that decodes each message with the source topic's own decoder,
    as Faust's conductor does for a consumed record (``propagate=True``)."""

    def __init__(self, app: faust.App, *, source: faust.TopicT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.source = source

    def _clone_args(self) -> dict[str, Any]:
        return {**super()._clone_args(), "source": self.source}

    async def decode(self, message: Any, *, propagate: bool = False) -> Any:
        return await self.source.decode(message, propagate=True)


@dataclass
class Harness:
    evictor: EvictorApp
    producer: RecordingProducer
    facts: Any
    ticks: Any

    @property
    def table(self) -> Any:
        return self.evictor.table

    async def deliver(self, *events: Event[EventData]) -> None:
        """Each event as its consumer gets it: value, headers, key and partition of its site."""
        for event in events:
            encoded = encode(event)
            site = event.data.site
            await self.facts.put(value=encoded.value, key=site.encode(), headers=encoded.headers,
                                 partition=partition_of(site, PARTITIONS))
        await self._settle(self.facts, encode(Event(
            data=EvictionBlocked(site="barrier", volume=VOLUME, bytes_wanted=0, explanation="barrier"),
            source="/lakecache/evictor")))

    async def tick(self, now: datetime, *, partitions: Iterable[int] | None = None) -> None:
        """Send the clock's ticks through the producer and deliver the recorded ones (all
        partitions, or only ``partitions``) to the ticks agent."""
        before = len(self.producer.on(EVICTION_TICKS.name))
        await self.evictor.send_ticks(now)
        wanted = set(range(PARTITIONS) if partitions is None else partitions)
        for message in self.producer.on(EVICTION_TICKS.name)[before:]:
            if message.partition in wanted:
                await self.ticks.put(value=message.value, key=message.key, headers=message.headers,
                                     partition=message.partition)
        # No site hashes to a partition past the last: this tick changes nothing.
        await self._settle(self.ticks, encode(Event(data=EvictionTick(partition=PARTITIONS, now=now),
                                                    source="/lakecache/evictor")))

    @staticmethod
    async def _settle(agent: Any, barrier: Any) -> None:
        # ``put`` returns when the agent takes the value from its stream, i.e. once it is done
        # with the one before: a message that changes nothing waits out the last real one.
        await agent.put(value=barrier.value, key=b"barrier", headers=barrier.headers)

    def decisions(self) -> list[tuple[Sent, CacheEvictionRequested]]:
        found = []
        for message in self.producer.commands():
            data = message.event().data
            assert isinstance(data, CacheEvictionRequested)
            found.append((message, data))
        return found


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    evictor = EvictorApp(evictor_settings(tmp_path), EvictorMetrics(CollectorRegistry()),
                         app_id=f"test-evictor-{uuid.uuid4().hex[:8]}")
    producer = RecordingProducer()
    evictor.app.producer = producer
    facts = evictor.app.agents["lakecache-evictor-facts"]
    ticks = evictor.app.agents["lakecache-evictor-ticks"]
    async with facts.test_context(channel=ConsumedChannel(evictor.app, source=facts.channel)) as facts_agent, \
            ticks.test_context(channel=ConsumedChannel(evictor.app, source=ticks.channel)) as ticks_agent:
        yield Harness(evictor, producer, facts_agent, ticks_agent)


# --- the facts agent --------------------------------------------------------------------------

async def test_facts_agent_keeps_each_sites_state_in_the_table_on_the_sites_partition(harness):
    site_a, site_b = sites_on_distinct_partitions(2)
    leased_until = T0 + 3 * HOUR
    await harness.deliver(
        ready(site_a, commit(1), T0), read(site_a, commit(1), T0 + 10 * MINUTE),
        lease(site_a, commit(2), T0 + 5 * MINUTE, leased_until),  # before its cache.ready: remembered
        ready(site_b, commit(3), T0 + MINUTE),
    )

    a, b = site_state(harness.table, site_a), site_state(harness.table, site_b)
    one, two = a.find(VOLUME, PROJECT, commit(1)), a.find(VOLUME, PROJECT, commit(2))
    assert (one.status, one.ready_at, one.last_read) == ("ready", T0, T0 + 10 * MINUTE)
    assert two.status == "unseen" and two.leases["lease-1"].expires_at == leased_until
    assert list(b.volumes[VOLUME].copies) == [copy_key(PROJECT, commit(3))]
    assert b.find(VOLUME, PROJECT, commit(3)).status == "ready"
    assert sorted(harness.table.keys()) == sorted([site_a, site_b])
    # Every change went to the changelog partition of the site's events, so the instance that
    # owns a site's partition owns its state; nothing was decided.
    changes = [m for m in harness.producer.changelog if m.channel.get_topic_name().endswith(f"{TABLE}-changelog")]
    assert {(m.key, m.partition) for m in changes} == {
        (f'"{site}"'.encode(), partition_of(site, PARTITIONS)) for site in (site_a, site_b)}
    assert harness.producer.commands() == []


async def test_space_request_is_answered_by_the_facts_agent_with_the_least_recently_used_copy(harness):
    (site,) = sites_on_distinct_partitions(1)
    await harness.deliver(
        ready(site, commit(1), T0, fetched=100), ready(site, commit(2), T0 + 10 * MINUTE, fetched=100),
        read(site, commit(1), T0 + 20 * MINUTE),
        space(site, T0 + 30 * MINUTE, bytes_needed=50),
    )

    [(message, decision)] = harness.decisions()
    assert message.topic == CACHE_COMMANDS.for_site(site).name and message.key == commit(2).encode()
    assert (decision.commit_id, decision.reason, decision.site) == (commit(2), "capacity", site)
    # The same request redelivered is answered once.
    await harness.deliver(space(site, T0 + 30 * MINUTE, bytes_needed=50))
    assert len(harness.decisions()) == 1


async def test_two_projects_copies_of_one_commit_are_two_records_and_a_lease_protects_its_own(harness):
    (site,) = sites_on_distinct_partitions(1)
    await harness.deliver(ready(site, commit(1), T0), ready(site, commit(1), T0, project="rival"),
                          lease(site, commit(1), T0 + MINUTE, T0 + 3 * HOUR, project="rival"))

    copies = site_state(harness.table, site).volumes[VOLUME].copies
    assert sorted(copies) == [copy_key("rival", commit(1)), copy_key(PROJECT, commit(1))]
    await harness.tick(T0 + TTL + MINUTE)
    [(message, decision)] = harness.decisions()
    assert (decision.project, decision.commit_id, decision.reason) == (PROJECT, commit(1), "ttl-expired")


# --- the ticks agent --------------------------------------------------------------------------

async def test_idle_ready_copy_is_decided_on_the_first_tick_past_its_ttl_on_its_sites_command_topic(harness):
    (site,) = sites_on_distinct_partitions(1)
    await harness.deliver(ready(site, commit(1), T0))

    await harness.tick(T0 + TTL - MINUTE)
    assert harness.decisions() == []
    await harness.tick(T0 + TTL + MINUTE)

    [(message, decision)] = harness.decisions()
    command_topic = CACHE_COMMANDS.for_site(site)
    assert message.topic == command_topic.name and message.key == commit(1).encode()
    assert harness.producer.created[command_topic.name] == command_topic.partitions  # declared from the catalog
    event = message.event()
    assert (event.type, event.source) == ("lakecache.cache.eviction.requested", "/lakecache/evictor")
    assert (decision.site, decision.volume, decision.project, decision.commit_id, decision.dataset_id) == (
        site, VOLUME, PROJECT, commit(1), DATASET)
    assert decision.reason == "ttl-expired" and not decision.dry_run
    record = site_state(harness.table, site).find(VOLUME, PROJECT, commit(1)).decision
    assert record is not None and (record.decision_id, record.outcome) == (decision.decision_id, "pending")


async def test_a_read_the_cacher_saw_on_the_volume_counts_from_its_access_time(harness):
    [site] = sites_on_distinct_partitions(1)
    read_at = T0 + 40 * MINUTE
    await harness.deliver(ready(site, commit(1), T0), read_on_volume(site, commit(1), read_at, read_at + 5 * MINUTE))
    assert site_state(harness.table, site).find(VOLUME, PROJECT, commit(1)).last_read == read_at

    await harness.tick(T0 + TTL + MINUTE)  # idle for the TTL since ready, not since the read
    assert harness.decisions() == []
    await harness.tick(read_at + TTL + MINUTE)
    assert [(data.commit_id, data.reason) for _, data in harness.decisions()] == [(commit(1), "ttl-expired")]


async def test_leased_copy_survives_ttl_expiry_until_its_lease_ends(harness):
    (site,) = sites_on_distinct_partitions(1)
    await harness.deliver(ready(site, commit(1), T0), lease(site, commit(1), T0 + MINUTE, T0 + 3 * HOUR))

    for now in (T0 + TTL + MINUTE, T0 + 2 * HOUR, T0 + 3 * HOUR + MINUTE):
        await harness.tick(now)
    assert harness.decisions() == []  # leased, then idle only since the lease ended

    await harness.tick(T0 + 3 * HOUR + TTL + MINUTE)
    [(_, decision)] = harness.decisions()
    assert (decision.commit_id, decision.reason) == (commit(1), "ttl-expired")


async def test_released_lease_no_longer_protects_the_copy(harness):
    (site,) = sites_on_distinct_partitions(1)
    await harness.deliver(ready(site, commit(1), T0), lease(site, commit(1), T0 + MINUTE, T0 + 5 * HOUR),
                          release(site, commit(1), T0 + 2 * MINUTE))

    await harness.tick(T0 + TTL + 3 * MINUTE)
    [(_, decision)] = harness.decisions()
    assert decision.commit_id == commit(1)


async def test_send_ticks_sends_one_tick_per_partition_and_each_ticks_only_its_own_sites(harness):
    site_a, site_b = sites_on_distinct_partitions(2)
    await harness.deliver(ready(site_a, commit(1), T0), ready(site_b, commit(2), T0))
    now = T0 + 2 * HOUR

    await harness.tick(now, partitions=[partition_of(site_a, PARTITIONS)])

    ticks = harness.producer.on(EVICTION_TICKS.name)
    assert sorted(m.partition for m in ticks) == list(range(PARTITIONS))
    assert [m.event().data.partition for m in ticks] == [m.partition for m in ticks]
    assert all(m.event().data.now == now for m in ticks)
    assert [(m.topic, d.site) for m, d in harness.decisions()] == [(CACHE_COMMANDS.for_site(site_a).name, site_a)]
    assert site_state(harness.table, site_b).clock is None  # site b's partition has not ticked

    await harness.tick(now, partitions=[partition_of(site_b, PARTITIONS)])
    assert sorted(d.site for _, d in harness.decisions()) == sorted([site_a, site_b])


async def test_redelivered_facts_and_ticks_make_no_second_decision(harness):
    (site,) = sites_on_distinct_partitions(1)
    first_ready = ready(site, commit(1), T0)
    await harness.deliver(first_ready)
    await harness.tick(T0 + TTL + MINUTE)
    assert len(harness.decisions()) == 1

    await harness.deliver(first_ready)  # at least once: the same event again
    await harness.tick(T0 + TTL + MINUTE)  # a repeated tick
    await harness.tick(T0 + TTL + 2 * MINUTE)  # the decision is still pending: not made again
    assert len(harness.decisions()) == 1
