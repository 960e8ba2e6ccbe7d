import uuid

import pytest

from lakecache.core.adapters.bus.memory import InMemoryEventBus
from tests.ports.bus_suite import BusConformance


@pytest.fixture
def open_bus():
    name = f"test-{uuid.uuid4().hex[:8]}"
    return lambda: InMemoryEventBus.from_url(f"memory://{name}")


class TestInMemoryEventBus(BusConformance):
    pass


async def test_a_busy_partition_does_not_starve_the_others():
    from datetime import timedelta

    from lakecache.core.contracts.topics import Topic
    from tests.ports.bus_suite import Collector

    bus = InMemoryEventBus.from_url(f"memory://fair-{uuid.uuid4().hex[:6]}")
    async with bus:
        await bus.ensure_topics([Topic("fair", 2, "k", timedelta(hours=1))])
        # Find two keys landing on different partitions.
        import zlib

        keys = {}
        for i in range(100):
            keys.setdefault(zlib.crc32(f"k{i}".encode()) % 2, f"k{i}".encode())
        for _ in range(50):
            await bus.publish("fair", b"busy", key=keys[0])
        await bus.publish("fair", b"quiet", key=keys[1])
        seen = Collector()
        await bus.subscribe(["fair"], group="g", handler=seen)
        from tests.support.waiting import eventually

        await eventually(lambda: len(seen.messages) == 51, message="all messages")
    assert seen.values.index(b"quiet") <= 1
