"""The site-store conformance suite on the Faust table adapter (the Kafka runtime's).

A Faust table changes only while an agent processes an event, and writes the change to the
changelog partition of that event; the evictor's agents call the store exactly so. Here every
call of the store runs inside a small agent of an app that declares the table as the evictor
does (``streams.site_table``), on a message keyed by the site and sent to the site's partition:

* without a broker (``agent.test_context()``, the changelog recorded by a stand-in producer):
  the whole suite;
* on the Kafka test broker: durability — an app restarted with the same id rebuilds the table
  from its changelog.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
import pytest

from lakecache.evictor.faust_bridge import create_app
from lakecache.evictor.site_store import SiteStore, State
from lakecache.evictor.streams import TABLE, TableSiteStore, partition_of, site_table
from tests.evictor.test_streams import PARTITIONS, RecordingProducer
from tests.evictor.test_streams_kafka import FAUST

from .site_store_suite import SiteStoreConformance, SiteStoreDurability

TIMEOUT = 30

Call = Callable[[], Awaitable[Any]]
Send = Callable[[int, bytes], Awaitable[None]]


class TableApp:
    """A Faust app holding the evictor's site table and an agent that runs store calls."""

    def __init__(self, broker_url: str, app_id: str, datadir: Path, calls_topic: str, **conf: Any) -> None:
        self.app = create_app(app_id, broker_url, datadir=datadir, topic_partitions=PARTITIONS, **conf)
        self.table = site_table(self.app, PARTITIONS)
        self.calls = self.app.topic(calls_topic, partitions=PARTITIONS, key_serializer="raw", value_serializer="raw")
        self.pending: dict[bytes, tuple[Call, asyncio.Future]] = {}
        self.agent = self.app.agent(self.calls, name="site-store-calls")(self._run_calls)

    async def _run_calls(self, stream: faust.StreamT) -> None:
        async for call_id in stream:
            # A call sent to an earlier instance of the app is redelivered here: nobody awaits it.
            call = self.pending.pop(call_id, None)
            if call is None:
                continue
            run, done = call
            try:
                done.set_result(await run())
            except Exception as exc:
                done.set_exception(exc)

    def store(self, send: Send) -> InStreamStore:
        return InStreamStore(TableSiteStore(self.table), self.pending, send)


class InStreamStore(SiteStore):
    """The table's store, each call made by the agent while it processes a message of the site's
    partition (``sites`` on partition 0: any partition will do to read)."""

    def __init__(self, store: TableSiteStore, pending: dict[bytes, tuple[Call, asyncio.Future]], send: Send) -> None:
        self._store, self._pending, self._send = store, pending, send

    async def _call(self, partition: int, run: Call) -> Any:
        call_id = uuid.uuid4().hex.encode()
        done = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (run, done)
        await self._send(partition, call_id)
        return await asyncio.wait_for(done, TIMEOUT)

    async def load(self, site: str) -> State | None:
        return await self._call(partition_of(site, PARTITIONS), lambda: self._store.load(site))

    async def save(self, site: str, state: State) -> None:
        await self._call(partition_of(site, PARTITIONS), lambda: self._store.save(site, state))

    async def sites(self) -> list[str]:
        return await self._call(0, self._store.sites)


@pytest.fixture
def without_broker(tmp_path) -> TableApp:
    table_app = TableApp("kafka://127.0.0.1:9", f"test-sites-{uuid.uuid4().hex[:8]}", tmp_path / "faust",
                         "site-store-calls")
    table_app.app.producer = RecordingProducer()
    return table_app


@contextlib.asynccontextmanager
async def in_test_context(table_app: TableApp) -> AsyncIterator[SiteStore]:
    """The table's store, its calls put to the agent's ``test_context`` on the site's partition."""
    async with table_app.agent.test_context() as agent:

        async def send(partition: int, call_id: bytes) -> None:
            await agent.put(value=call_id, key=call_id, partition=partition)

        yield table_app.store(send)


class TestTableSiteStore(SiteStoreConformance):
    @pytest.fixture
    async def store(self, without_broker) -> AsyncIterator[SiteStore]:
        async with in_test_context(without_broker) as store:
            yield store


async def test_every_save_goes_to_the_changelog_partition_of_its_site(without_broker):
    async with in_test_context(without_broker) as store:
        sites = [f"site-{n}" for n in range(8)]
        for site in sites:
            await store.save(site, {"site": site})
    changelog = without_broker.app.producer.changelog
    assert all(m.channel.get_topic_name().endswith(f"{TABLE}-changelog") for m in changelog)
    assert [(m.key, m.value, m.partition) for m in changelog] == [
        (f'"{site}"'.encode(), f'{{"site":"{site}"}}'.encode(), partition_of(site, PARTITIONS)) for site in sites]


async def test_the_table_refuses_a_save_outside_an_agents_stream(without_broker):
    store = TableSiteStore(without_broker.table)
    with pytest.raises(TypeError, match="outside of stream"):
        await store.save("dgx", {"site": "dgx"})
    assert await store.load("dgx") is None


@pytest.mark.kafka
class TestKafkaTableSiteStore(SiteStoreDurability):
    """The table on the test broker: one app, stopped, then another with the same id."""

    @pytest.fixture
    async def running(self, kafka_server, tmp_path) -> AsyncIterator[Callable[[], Awaitable[SiteStore]]]:
        app_id, calls_topic = f"test-sites-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}.site-store-calls"
        apps: list[TableApp] = []

        async def start() -> SiteStore:
            if apps:
                await apps[-1].app.stop()
            table_app = TableApp(kafka_server.url, app_id, tmp_path / f"faust-{len(apps)}", calls_topic, **FAUST)
            apps.append(table_app)
            await table_app.calls.declare()
            # Calls sent before the app owns the partitions (and has recovered the table) wait in
            # the topic until it does: a new group reads from the earliest offset.
            await table_app.app.start()

            async def send(partition: int, call_id: bytes) -> None:
                await table_app.calls.send(key=call_id, value=call_id, partition=partition)

            return table_app.store(send)

        try:
            yield start
        finally:
            if apps:
                await apps[-1].app.stop()

    @pytest.fixture
    async def store(self, running) -> SiteStore:
        return await running()

    @pytest.fixture
    def reopen(self, running) -> Callable[[], Awaitable[SiteStore]]:
        return running
