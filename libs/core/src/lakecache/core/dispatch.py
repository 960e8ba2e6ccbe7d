"""Turning a handler table into a bus message handler.

Services declare ``HANDLERS = {PayloadModel: handler_function}`` at the bottom of their
``handlers.py``; handlers are plain async functions of the event that name the dependencies
they use (``async def on_cache_ready(event, copies: CopyRepository)``). ``bootstrap.py``
offers every dependency once, by name, to ``dispatcher(...)``, which hands each handler only
the ones it names (as cosmicpython's bootstrap does) and refuses, when the table is built, a
handler naming one it was not offered.
"""

from __future__ import annotations

import inspect
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
    by_type = {model.event_type: _bind(handler, dependencies) for model, handler in handlers.items()}

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
        await by_type[event.type](event)

    return handle


def _bind(handler: EventHandler, offered: Mapping[str, Any]) -> Callable[[Event[EventData]], Awaitable[None]]:
    """``handler`` with the dependencies it names bound; ``TypeError`` for one not offered."""
    parameters = list(inspect.signature(handler).parameters.values())[1:]  # the first is the event
    named = {p.name: offered[p.name] for p in parameters if p.name in offered}
    missing = [p.name for p in parameters if p.name not in offered and p.default is p.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if missing:
        raise TypeError(f"handler {handler.__qualname__} needs {', '.join(missing)}, which the dispatcher was not "
                        f"given (it was given: {', '.join(sorted(offered)) or 'nothing'})")

    async def bound(event: Event[EventData]) -> None:
        await handler(event, **named)

    return bound
