"""The evictor's Faust app on the real broker: a restart mid-stream and two instances sharing the sites.

The app runs in-process (``declare_topics``, then ``app.start()`` / ``app.stop()``), next to a
``KafkaEventBus`` that plays the cacher and the SDKs and collects the commands. The ticks are
sent with ``send_ticks`` at chosen times (the clock's timer is set to an hour), and the facts
carry chosen CloudEvents times, so the decisions do not depend on how fast the machine is.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from lakecache.core.adapters.bus.kafka import KafkaEventBus
from lakecache.core.contracts import ROUTES, Event, EventData, decode
from lakecache.core.contracts.cache import CacheEvictionRequested
from lakecache.core.contracts.topics import CACHE_COMMANDS, CACHE_EVENTS, EVICTION, EVICTION_TICKS, USAGE
from lakecache.core.ports.bus import Message
from lakecache.core.publishing import EventPublisher
from lakecache.evictor import streams
from lakecache.evictor.policy import CopyState
from lakecache.evictor.sites import EvictorMetrics
from lakecache.evictor.streams import EvictorApp, partition_of
from tests.evictor.test_streams import (
    HOUR,
    MINUTE,
    PARTITIONS,
    PROJECT,
    T0,
    TTL,
    VOLUME,
    commit,
    evictor_settings,
    lease,
    read,
    ready,
    site_state,
    sites_on_distinct_partitions,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.kafka

#: Quick rebalances: members notice a join or a leave within a heartbeat, and offsets are
#: committed often, so a restarted instance resumes where the stopped one left off.
FAUST = {"broker_heartbeat_interval": 0.3, "broker_session_timeout": 10, "broker_rebalance_timeout": 20,
         "broker_commit_interval": 0.5, "stream_recovery_delay": 0}
#: A decision nobody answers is not made again within these tests.
NO_REDECISION = {"redecide_after_seconds": 86400}
TIMEOUT = 30
#: How long a restarted instance may take to be assigned its partitions and recover: if the
#: group coordinator never saw the stopped member leave (a broker busy with other suites), it
#: waits out that member's session and then a full rebalance before anyone is assigned, and
#: only then does the changelog replay start.
RESTART_TIMEOUT = FAUST["broker_session_timeout"] + FAUST["broker_rebalance_timeout"] + TIMEOUT


@pytest.fixture(autouse=True)
def own_topics(monkeypatch) -> None:
    """Fresh source and tick topics for this test: the broker outlives it, and the ticks and
    events other tests left on the catalog's topics would move this test's clock."""
    tag = uuid.uuid4().hex[:8]
    renamed = {spec.name: replace(spec, name=f"test-{tag}.{spec.name}")
               for spec in (USAGE, CACHE_EVENTS, EVICTION, EVICTION_TICKS)}
    monkeypatch.setattr(streams, "SOURCES", tuple(renamed[spec.name] for spec in streams.SOURCES))
    monkeypatch.setattr(streams, "EVICTION_TICKS", renamed[EVICTION_TICKS.name])
    for event_type, spec in list(ROUTES.items()):
        if spec.name in renamed:
            monkeypatch.setitem(ROUTES, event_type, renamed[spec.name])


@pytest.fixture
async def bus(kafka_server) -> AsyncIterator[KafkaEventBus]:
    async with KafkaEventBus.from_url(kafka_server.url, client_id="evictor-streams-test") as bus:
        yield bus


class Commands:
    """The commands on the sites' command topics, as the cacher consumes them."""

    def __init__(self, bus: KafkaEventBus, sites: list[str]) -> None:
        self.bus = bus
        self.topics = [CACHE_COMMANDS.for_site(site) for site in sites]
        self.group = f"test-cacher-{uuid.uuid4().hex[:8]}"
        self.received: list[CacheEvictionRequested] = []

    async def start(self) -> None:
        await self.bus.ensure_topics(self.topics)
        await self.bus.subscribe([t.name for t in self.topics], group=self.group, handler=self._handle)

    async def _handle(self, message: Message) -> None:
        event = decode(message.headers, message.value)
        assert isinstance(event.data, CacheEvictionRequested)
        assert message.topic == CACHE_COMMANDS.for_site(event.data.site).name
        self.received.append(event.data)

    def by_copy(self) -> dict[tuple[str, str], set[str]]:
        """(site, commit) -> the distinct decision ids received (a redelivery repeats an id)."""
        found: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        for decision in self.received:
            found[(decision.site, decision.commit_id)].add(decision.decision_id)
        return dict(found)

    async def caught_up(self) -> bool:
        """Everything written to the command topics so far has been received."""
        for topic in self.topics:
            if await self.bus.consumer_lag(self.group, topic.name):
                return False
        return True


def new_evictor(kafka_server, home: Path, app_id: str) -> EvictorApp:
    home.mkdir(parents=True, exist_ok=True)
    return EvictorApp(evictor_settings(home, kafka_server.url, **NO_REDECISION), EvictorMetrics(CollectorRegistry()),
                      app_id=app_id, **FAUST)


async def start(evictor: EvictorApp) -> None:
    await evictor.declare_topics()
    await evictor.app.start()


async def publish(bus: KafkaEventBus, events: list[Event[EventData]]) -> None:
    publisher = EventPublisher(bus, "test")
    for event in events:
        await publisher.publish(event)


def copy_of(evictor: EvictorApp, site: str, commit_id: str) -> CopyState | None:
    """A copy as this instance's table holds it (None if the site or the copy is not there)."""
    if evictor.table.get(site) is None:
        return None
    return site_state(evictor.table, site).find(VOLUME, PROJECT, commit_id)


async def all_ticked(evictor: EvictorApp, sites: list[str], now) -> None:
    """Wait until every site's state has seen the tick at ``now`` and its commands are flushed."""
    await eventually(lambda: all(evictor.table.get(s) and site_state(evictor.table, s).clock == now for s in sites),
                     timeout=TIMEOUT, message=f"the tick at {now} on every site")
    await evictor.app.producer.flush()


IDLE, READ, LEASED, LATE = commit(1), commit(2), commit(3), commit(4)


async def test_restarted_instance_recovers_its_sites_and_decides_each_copy_exactly_once(kafka_server, bus, tmp_path):
    sites = sites_on_distinct_partitions(3, prefix="restart")
    commands = Commands(bus, sites)
    await commands.start()
    app_id = f"test-evictor-{uuid.uuid4().hex[:8]}"

    # Before the restart: per site an idle copy, a copy read 30 min later, a copy leased for a day.
    first = new_evictor(kafka_server, tmp_path / "first", app_id)
    await start(first)
    try:
        await publish(bus, [event for site in sites for event in (
            ready(site, IDLE, T0), ready(site, READ, T0), ready(site, LEASED, T0),
            read(site, READ, T0 + 30 * MINUTE), lease(site, LEASED, T0 + MINUTE, T0 + 24 * HOUR))])
        await eventually(lambda: all((c := copy_of(first, s, LEASED)) and c.leases for s in sites),
                         timeout=TIMEOUT, message="the first instance to hold every site's copies")
        tick1 = T0 + TTL + MINUTE  # past the idle copies' TTL only
        await first.send_ticks(tick1)
        await all_ticked(first, sites, tick1)
        await eventually(lambda: len(commands.received) >= len(sites), timeout=TIMEOUT,
                         message="the idle copies' decisions")
    finally:
        await first.app.stop()
    before_restart = commands.by_copy()
    assert set(before_restart) == {(site, IDLE) for site in sites}

    # While no instance runs: a read of READ, and a new copy on every site.
    await publish(bus, [event for site in sites for event in (
        read(site, READ, T0 + HOUR), ready(site, LATE, T0 + 10 * MINUTE))])

    second = new_evictor(kafka_server, tmp_path / "second", app_id)
    await start(second)
    try:
        await eventually(lambda: all((c := copy_of(second, s, LATE)) and c.status == "ready" for s in sites),
                         timeout=RESTART_TIMEOUT, message="the new instance to consume what was published meanwhile")
        for site in sites:  # and to start from the state the first one left in the changelog
            state = site_state(second.table, site)
            assert state.clock == tick1
            idle, read_, leased = (state.find(VOLUME, PROJECT, c) for c in (IDLE, READ, LEASED))
            assert idle.decision.decision_id in before_restart[(site, IDLE)]
            assert read_.last_read == T0 + HOUR and leased.leases

        tick2 = T0 + 2 * HOUR + MINUTE  # READ idle since T0+1h, LATE since T0+10m; IDLE still pending
        await second.send_ticks(tick2)
        await all_ticked(second, sites, tick2)
        await second.send_ticks(tick2 + MINUTE)  # one more tick: nothing is decided twice
        await all_ticked(second, sites, tick2 + MINUTE)
        await eventually(commands.caught_up, timeout=TIMEOUT, message="every command to be received")
    finally:
        await second.app.stop()

    decided = commands.by_copy()
    assert set(decided) == {(site, commit_id) for site in sites for commit_id in (IDLE, READ, LATE)}
    assert all(len(ids) == 1 for ids in decided.values()), decided
    assert all(decided[(site, IDLE)] == before_restart[(site, IDLE)] for site in sites)
    assert len({i for ids in decided.values() for i in ids}) == len(decided)
    reasons = {(d.site, d.commit_id): d.reason for d in commands.received}
    assert set(reasons.values()) == {"ttl-expired"}


async def test_two_instances_split_the_sites_and_each_copy_is_decided_once(kafka_server, bus, tmp_path):
    sites = sites_on_distinct_partitions(PARTITIONS, prefix="split")
    leased_sites = sites[:2]
    commands = Commands(bus, sites)
    await commands.start()
    app_id = f"test-evictor-{uuid.uuid4().hex[:8]}"
    instances = [new_evictor(kafka_server, tmp_path / name, app_id) for name in ("one", "two")]
    ticks_topic = streams.EVICTION_TICKS.name

    def owned(evictor: EvictorApp) -> set[int]:
        return {tp.partition for tp in evictor.app.consumer.assignment() if tp.topic == ticks_topic}

    def split() -> bool:
        one, two = (owned(e) for e in instances)
        return bool(one) and bool(two) and not one & two and one | two == set(range(PARTITIONS)) \
            and not any(e.app.rebalancing for e in instances)

    try:
        for evictor in instances:
            await start(evictor)
        await eventually(split, timeout=TIMEOUT, message="both instances to own some of the partitions")

        await publish(bus, [ready(site, IDLE, T0) for site in sites] + [
            event for site in leased_sites for event in (
                ready(site, LEASED, T0), lease(site, LEASED, T0 + MINUTE, T0 + 24 * HOUR))])
        expected_tables = [{s for s in sites if partition_of(s, PARTITIONS) in owned(e)} for e in instances]

        def tables_hold_their_sites() -> bool:
            held = [set(e.table.keys()) & set(sites) for e in instances]
            leases_seen = all(any((c := copy_of(e, s, LEASED)) and c.leases for e in instances) for s in leased_sites)
            return held == expected_tables and leases_seen

        await eventually(tables_hold_their_sites, timeout=TIMEOUT,
                         message=f"each instance's table to hold the sites of its partitions: {expected_tables}")

        now = T0 + TTL + MINUTE
        await instances[0].send_ticks(now)  # one tick per partition: each instance ticks its own
        for evictor, mine in zip(instances, expected_tables, strict=True):
            await all_ticked(evictor, sorted(mine), now)
        await eventually(commands.caught_up, timeout=TIMEOUT, message="every command to be received")
    finally:
        for evictor in instances:
            await evictor.app.stop()

    decided = commands.by_copy()
    assert set(decided) == {(site, IDLE) for site in sites}  # every idle copy, no leased one
    assert all(len(ids) == 1 for ids in decided.values()), decided
    assert len(commands.received) == len(sites)  # and each sent once
    for evictor, mine in zip(instances, expected_tables, strict=True):
        for site in mine:  # the decision was made, and recorded, by the instance owning the site
            assert copy_of(evictor, site, IDLE).decision.decision_id in decided[(site, IDLE)]
