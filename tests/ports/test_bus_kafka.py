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


async def test_publishing_creates_catalog_topics_with_their_partitions_and_retention(kafka_server, open_bus):
    from datetime import timedelta

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from lakecache.core.contracts.topics import CACHE_COMMANDS, topic_spec
    from tests.ports.bus_suite import unique

    site = unique("site")
    name = CACHE_COMMANDS.for_site(site).name
    async with open_bus() as bus:
        await bus.publish(name, b"x", key=b"k")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_server.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([name])
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    assert len(described[0]["partitions"]) == CACHE_COMMANDS.partitions == topic_spec(name).partitions
    assert entries["retention.ms"] == str(int(timedelta(days=7).total_seconds() * 1000))
    assert entries["cleanup.policy"] == "delete"
