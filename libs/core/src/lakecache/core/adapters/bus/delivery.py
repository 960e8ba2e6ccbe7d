"""Retry-then-dead-letter delivery, shared by every bus adapter so they behave alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from lakecache.core.ports.bus import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_GROUP,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_TOPIC,
    Header,
    Message,
    MessageHandler,
    PoisonMessage,
    RetryPolicy,
)

log = logging.getLogger(__name__)

# Kafka header values have no hard limit, but a traceback-sized error would bloat every
# dead letter; the first line with context is what an operator needs.
_MAX_ERROR_BYTES = 2048

DeadLetterSink = Callable[[Message, list[Header]], Awaitable[None]]


def dead_letter_headers(message: Message, error: BaseException, attempts: int, group: str) -> list[Header]:
    """The original headers followed by the ``dlq-*`` headers describing the failure."""
    text = f"{error}" or type(error).__name__
    return [
        *message.headers,
        (DLQ_ERROR, text.encode()[:_MAX_ERROR_BYTES]),
        (DLQ_ERROR_TYPE, f"{type(error).__module__}.{type(error).__qualname__}".encode()),
        (DLQ_TOPIC, message.topic.encode()),
        (DLQ_PARTITION, str(message.partition).encode()),
        (DLQ_OFFSET, str(message.offset).encode()),
        (DLQ_GROUP, group.encode()),
        (DLQ_ATTEMPTS, str(attempts).encode()),
    ]


async def deliver(
    message: Message,
    handler: MessageHandler,
    retry: RetryPolicy,
    group: str,
    dead_letter: DeadLetterSink,
) -> bool:
    """Run ``handler`` on ``message`` with retries; dead-letter it when they run out.

    Returns True if the handler succeeded, False if the message was dead-lettered. Either
    way the caller may commit the offset. Cancellation propagates (the offset must then
    not be committed, so the message is delivered again).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            await handler(message)
            return True
        except asyncio.CancelledError:
            raise
        except PoisonMessage as exc:
            error: BaseException = exc
            break
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            error = exc
            if attempt >= retry.attempts:
                break
            delay = retry.backoff(attempt)
            log.warning(
                "handler for %s[%s]@%s failed (attempt %d/%d), retrying in %.2fs: %s",
                message.topic, message.partition, message.offset, attempt, retry.attempts, delay, exc,
            )
            await asyncio.sleep(delay)
    log.error(
        "dead-lettering %s[%s]@%s for group %s after %d attempt(s): %s",
        message.topic, message.partition, message.offset, group, attempt, error,
    )
    await dead_letter(message, dead_letter_headers(message, error, attempt, group))
    return False


def log_if_crashed(task: asyncio.Task[None]) -> None:
    """Done-callback for consumer tasks: a consumer that dies must say why (readiness then fails)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("consumer task %s stopped", task.get_name(), exc_info=task.exception())
