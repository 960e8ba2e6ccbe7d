"""Turning a handler table into a bus message handler.

Services declare ``HANDLERS = {PayloadModel: handler_function}`` at the bottom of their
``handlers.py``; handlers are plain ``async def handler(event, **dependencies)``.
``bootstrap.py`` binds the dependencies once and calls ``dispatcher(...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lakecache.core.contracts import Event, EventData, MalformedEvent, UnknownEventType, decode
from lakecache.core.ports.bus import Message, MessageHandler, PoisonMessage

log = logging.getLogger(__name__)

EventHandler = Callable[..., Awaitable[None]]


def dispatcher(handlers: Mapping[type[EventData], EventHandler], **dependencies: Any) -> MessageHandler:
    """A message handler that decodes each message and calls the handler of its type.

    Events of types this table does not handle are skipped unread: topics carry several
    types and each consumer picks the ones it cares about. Messages that are not valid
    events (no ``ce_type``, bad JSON, data failing validation, a data version newer than
    this consumer knows) raise ``PoisonMessage`` and are dead-lettered at once, to be
    replayed once fixed.
    """
    by_type = {model.event_type: handler for model, handler in handlers.items()}

    async def handle(message: Message) -> None:
        type_header = message.header("ce_type")
        if type_header is not None and type_header.decode(errors="replace") not in by_type:
            return
        try:
            event: Event[EventData] = decode(message.headers, message.value)
        except (MalformedEvent, UnknownEventType) as exc:
            raise PoisonMessage(
                f"{message.topic}[{message.partition}]@{message.offset} is not a valid event: {exc}"
            ) from exc
        await by_type[event.type](event, **dependencies)

    return handle
