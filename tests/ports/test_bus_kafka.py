import pytest

from lakecache.core.adapters.bus.kafka import KafkaEventBus
from tests.ports.bus_suite import BusConformance

pytestmark = pytest.mark.kafka


@pytest.fixture
def open_bus(kafka_server):
    return lambda: KafkaEventBus.from_url(kafka_server.url)


class TestKafkaEventBus(BusConformance):
    pass
