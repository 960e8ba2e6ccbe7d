"""The envelope every event travels in, and the registry that knows each event type.

An event type is a CloudEvents ``type`` such as ``lakecache.cache.ready`` plus a *data
version*: an integer carried in the ``dataversion`` extension attribute (``ce_dataversion``
on Kafka). Payloads are pydantic models. The versioning rules:

* Adding a field: make it optional with a default; the version stays the same.
* A breaking change: bump the version, keep the old golden file, and register an
  *upcaster* that turns the old payload into the new shape, so old events still parse.

Consumers ignore fields they do not know, so producers can be upgraded first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lakecache.core.errors import InvalidArgument

SOURCE_PREFIX = "/lakecache/"


class EventData(BaseModel):
    """Base of every event payload. Subclasses set ``event_type`` and ``data_version``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    data_version: ClassVar[int] = 1


D = TypeVar("D", bound=EventData)


@dataclass(frozen=True)
class Event(Generic[D]):
    """A typed event: CloudEvents context attributes plus a validated payload.

    ``extensions`` holds further CloudEvents extension attributes (lower-case alphanumeric
    names); transport headers such as ``traceparent`` are not part of the event.
    """

    data: D
    source: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.data.event_type

    @property
    def version(self) -> int:
        return self.data.data_version


def new_event(data: D, *, service: str, subject: str | None = None, **extensions: str) -> Event[D]:
    """Wrap ``data`` in an event whose ``source`` names the emitting service."""
    return Event(data=data, source=SOURCE_PREFIX + service, subject=subject, extensions=extensions)


class UnknownEventType(InvalidArgument):
    """The ``type`` (or its data version) is not registered: a poison message for consumers."""


class MalformedEvent(InvalidArgument):
    """The payload does not validate against its registered model."""


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Maps (type, version) to payload models and upcasters.

    ``parse`` accepts the current version and every older version that has a chain of
    upcasters to it; anything newer than this process knows is refused so that a consumer
    is upgraded before it silently drops fields it cannot see.
    """

    def __init__(self) -> None:
        self._models: dict[str, type[EventData]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[D]) -> type[D]:
        """Class decorator: make ``model`` the current payload model of its type."""
        existing = self._models.get(model.event_type)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {model.event_type} is already registered by {existing.__name__}")
        self._models[model.event_type] = model
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: register a function that turns ``from_version`` data into ``from_version + 1``."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def model(self, event_type: str) -> type[EventData]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(
                f"unknown event type {event_type!r}: this consumer knows "
                f"{len(self._models)} types; upgrade it if the producer is newer"
            ) from None

    def types(self) -> dict[str, type[EventData]]:
        return dict(self._models)

    def parse(self, event_type: str, version: int, data: Mapping[str, Any]) -> EventData:
        """Validate ``data`` of ``event_type`` at ``version``, upcasting older versions."""
        model = self.model(event_type)
        if version > model.data_version:
            raise UnknownEventType(
                f"event {event_type} has data version {version} but this consumer knows only "
                f"up to {model.data_version}; upgrade the consumer"
            )
        payload = dict(data)
        for step in range(version, model.data_version):
            upcast = self._upcasters.get((event_type, step))
            if upcast is None:
                raise UnknownEventType(
                    f"event {event_type} version {step} cannot be upcast to {step + 1}: no upcaster registered"
                )
            payload = upcast(payload)
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise MalformedEvent(f"event {event_type} v{version} has invalid data: {exc}") from exc


#: The registry of every event LakeCache services exchange (filled by the contract modules).
EVENTS = EventRegistry()
