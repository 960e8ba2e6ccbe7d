import pytest

from lakecache.core.adapters.bus.kafka import KafkaEventBus
from tests.ports.bus_suite import BusConformance

pytestmark = pytest.mark.kafka


@pytest.fixture
def open_bus(kafka_server):
    return lambda: KafkaEventBus.from_url(kafka_server.url)


class TestKafkaEventBus(BusConformance):
    pass


async def test_consumer_and_producer_survive_a_broker_restart_without_losing_messages(kafka_server, open_bus):
    import asyncio

    from tests.ports.bus_suite import FAST_RETRY, Collector, unique
    from tests.support.waiting import eventually

    topic, seen = unique("restart"), Collector()
    async with open_bus() as bus:
        subscription = await bus.subscribe([topic], group=unique("g"), handler=seen, retry=FAST_RETRY)
        await bus.publish(topic, b"before", key=b"k")
        await eventually(lambda: seen.values == [b"before"], message="first message")
        await asyncio.to_thread(kafka_server.restart)
        await bus.publish(topic, b"after", key=b"k")
        await eventually(lambda: b"after" in seen.values, timeout=90, message="message after restart")
        assert subscription.alive
    assert seen.values.count(b"after") == 1
