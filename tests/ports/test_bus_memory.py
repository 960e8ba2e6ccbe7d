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
