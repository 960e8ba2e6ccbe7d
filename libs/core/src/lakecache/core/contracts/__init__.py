"""Event contracts: the cross-service API. Importing this package registers every event type."""

from lakecache.core.contracts import cache, catalog, eviction, runs, usage  # noqa: F401  (registration)
from lakecache.core.contracts.base import EVENTS, Event, EventData, MalformedEvent, UnknownEventType, new_event
from lakecache.core.contracts.codec import decode, encode
from lakecache.core.contracts.topics import ROUTES, TOPICS, Topic, dead_letter_topic, route

__all__ = [
    "EVENTS",
    "Event",
    "EventData",
    "MalformedEvent",
    "ROUTES",
    "TOPICS",
    "Topic",
    "UnknownEventType",
    "dead_letter_topic",
    "decode",
    "encode",
    "new_event",
    "route",
]
