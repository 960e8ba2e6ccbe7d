"""Publishing typed events: route by the topic catalog, encode as CloudEvents, send."""

from __future__ import annotations

from lakecache.core.contracts import Event, EventData, encode, new_event, route
from lakecache.core.ports.bus import EventBus


class EventPublisher:
    """Publishes events of one service (its name becomes the CloudEvents ``source``)."""

    def __init__(self, bus: EventBus, service: str) -> None:
        self._bus = bus
        self.service = service

    async def publish(self, event: Event[EventData]) -> None:
        """Send ``event`` to its topic, keyed per the topic catalog."""
        topic, key = route(event)
        encoded = encode(event)
        await self._bus.publish(topic.name, encoded.value, key=key, headers=encoded.headers)

    async def emit(self, data: EventData, *, subject: str | None = None) -> Event[EventData]:
        """Wrap ``data`` in a new event from this service, publish it and return it."""
        event = new_event(data, service=self.service, subject=subject)
        await self.publish(event)
        return event
