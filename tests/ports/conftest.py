import uuid

import pytest


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
def bus_url(request) -> str:
    """The URL of a bus of each kind: in-memory, and the real Kafka test broker."""
    if request.param == "memory":
        return f"memory://test-{uuid.uuid4().hex[:8]}"
    return request.getfixturevalue("kafka_server").url
