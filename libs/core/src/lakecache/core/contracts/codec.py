"""CloudEvents 1.0 binary content mode over a message bus: attributes in ``ce_*`` headers,
the payload as JSON in the value. The same encoding is used by the Kafka adapter, the
in-memory adapter and the Faust app, through the ``cloudevents`` library's Kafka binding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from lakecache.core.contracts.base import EVENTS, Event, EventData, EventRegistry, MalformedEvent

_FORMAT = JSONFormat()
_CONTENT_TYPE = "application/json"
VERSION_ATTR = "dataversion"
_CONTEXT_ATTRS = {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", VERSION_ATTR}


@dataclass(frozen=True)
class EncodedEvent:
    """What goes on the wire: headers (``ce_*`` + ``content-type``), key and JSON value."""

    headers: list[tuple[str, bytes]]
    value: bytes


def encode(event: Event[EventData]) -> EncodedEvent:
    """Serialize ``event`` for a bus (binary mode)."""
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "datacontenttype": _CONTENT_TYPE,
        VERSION_ATTR: str(event.version),
        **event.extensions,
    }
    if event.subject is not None:
        attributes["subject"] = event.subject
    # The payload serialized by pydantic's own JSON encoder: bytes go into the value as they are.
    cloud_event = CloudEvent(attributes, event.data.model_dump_json().encode())
    message = ce_kafka.to_binary(cloud_event, _FORMAT, key_mapper=lambda _: None)
    return EncodedEvent(headers=list(message.headers.items()), value=message.value)


def decode(
    headers: Iterable[tuple[str, bytes]], value: bytes | None, registry: EventRegistry = EVENTS
) -> Event[EventData]:
    """Parse a bus message into a typed event.

    Raises ``MalformedEvent`` (or ``UnknownEventType``) for anything that is not a valid
    LakeCache event: such messages are poison and belong on the dead-letter topic.
    Headers that are not CloudEvents attributes (``traceparent``…) are ignored here.
    """
    ce_headers = {
        name: raw
        for name, raw in headers
        if name.lower().startswith("ce_") or name.lower() == "content-type"
    }
    if "ce_type" not in ce_headers:
        raise MalformedEvent("message has no ce_type header: not a CloudEvents binary-mode event")
    try:
        message = ce_kafka.KafkaMessage(headers=ce_headers, key=None, value=value or b"")
        cloud_event = ce_kafka.from_binary(message, _FORMAT, CloudEvent)
        attributes = cloud_event.get_attributes()
        version = int(attributes.get(VERSION_ATTR, "1"))
        raw = cloud_event.get_data()
    except (BaseCloudEventException, ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"message is not a valid CloudEvent: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedEvent(f"event {attributes.get('type')} data must be a JSON object, got {type(raw).__name__}")
    data = registry.parse(attributes["type"], version, raw)
    return Event(
        data=data,
        source=attributes["source"],
        id=attributes["id"],
        time=attributes["time"],
        subject=attributes.get("subject"),
        extensions={k: str(v) for k, v in attributes.items() if k not in _CONTEXT_ATTRS},
    )
