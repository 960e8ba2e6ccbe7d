"""The site list (``GET /api/v1/sites``) answers from the cachers' volume reports: a volume its
cacher withdrew stays listed, saying why, instead of passing for usable or vanishing, until a
report says it is usable again. The cacher's newest word wins, whatever the order of arrival."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import VolumeReported, VolumeWithdrawn
from lakecache.core.publishing import EventPublisher
from tests.gateway.calls import call_json
from tests.gateway.stack import gateway_client, unreachable_upstreams
from tests.support.waiting import bus_settled

T0 = datetime(2030, 1, 1, tzinfo=UTC)
WHY = "volume path '/mnt/nfs2' may be written by other users (mode 777); only the cacher may write a cache volume"


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reported(volume: str, used: int = 100) -> VolumeReported:
    return VolumeReported(site="dgx", volume=volume, capacity_bytes=1000, used_bytes=used, ttl_seconds=3600)


def withdrawn(volume: str, reason: str = WHY) -> VolumeWithdrawn:
    return VolumeWithdrawn(site="dgx", volume=volume, reason=reason)


async def test_a_withdrawn_volume_is_listed_with_why_then_usable_after_a_report(auth, store, people):
    bus_url = f"memory://site-list-{uuid.uuid4().hex[:8]}"
    async with gateway_client(auth, store, unreachable_upstreams(), bus_url) as gateway, \
            InMemoryEventBus.from_url(bus_url) as bus:
        publisher = EventPublisher(bus, "cacher")

        async def cacher_says(seconds: int, *facts) -> dict[str, dict]:
            for data in facts:  # stamped by the cacher's clock: ``seconds`` after T0
                await publisher.publish(Event(data=data, source="/lakecache/cacher", time=at(seconds)))
            await bus_settled(bus)
            status, page = await call_json(gateway, "GET", "/api/v1/sites", people["bob"])  # any signed-in user
            assert status == 200, page
            return {item["volume"]: item for item in page["items"]}

        listed = await cacher_says(1, reported("nfs1"), reported("nfs2"))
        assert listed["nfs2"]["withdrawn"] is None and listed["nfs2"]["capacity_bytes"] == 1000

        listed = await cacher_says(2, withdrawn("nfs2"))
        assert listed["nfs2"]["withdrawn"] == WHY
        assert listed["nfs2"]["used_bytes"] == 100  # the last report's figures stay
        assert listed["nfs2"]["reported_at"] == at(2).isoformat().replace("+00:00", "Z")
        assert listed["nfs1"]["withdrawn"] is None

        listed = await cacher_says(1, reported("nfs2", used=5))  # an older report, late: still withdrawn
        assert listed["nfs2"]["withdrawn"] == WHY and listed["nfs2"]["used_bytes"] == 100

        listed = await cacher_says(3, reported("nfs2", used=200))  # fixed and reported: usable again
        assert listed["nfs2"]["withdrawn"] is None and listed["nfs2"]["used_bytes"] == 200

        listed = await cacher_says(2, withdrawn("nfs2"))  # the withdrawal redelivered late changes nothing
        assert listed["nfs2"]["withdrawn"] is None

        # Withdrawn before any report reached the gateway: listed, without figures.
        listed = await cacher_says(4, withdrawn("nfs3", reason="an alias of nfs1"))
        assert listed["nfs3"]["withdrawn"] == "an alias of nfs1" and listed["nfs3"]["capacity_bytes"] is None


async def test_the_list_shows_lakecaches_bytes_of_its_capacity_and_the_filesystems_free_space(auth, store, people):
    bus_url = f"memory://site-list-{uuid.uuid4().hex[:8]}"
    async with gateway_client(auth, store, unreachable_upstreams(), bus_url) as gateway, \
            InMemoryEventBus.from_url(bus_url) as bus:
        publisher = EventPublisher(bus, "cacher")
        shared = VolumeReported(site="dgx", volume="nfs1", capacity_bytes=1000, used_bytes=50_000, cached_bytes=300,
                                capacity_configured=True, filesystem_free_bytes=7000)
        for seconds, data in ((1, reported("old")), (2, shared)):
            await publisher.publish(Event(data=data, source="/lakecache/cacher", time=at(seconds)))
        await bus_settled(bus)
        status, page = await call_json(gateway, "GET", "/api/v1/sites", people["bob"])
        assert status == 200, page
        listed = {item["volume"]: item for item in page["items"]}
        figures = ("capacity_bytes", "used_bytes", "cached_bytes", "capacity_configured", "filesystem_free_bytes")
        assert [listed["nfs1"][key] for key in figures] == [1000, 50_000, 300, True, 7000]
        assert [listed["old"][key] for key in figures] == [1000, 100, None, None, None]  # a report from before
