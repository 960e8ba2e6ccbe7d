"""Polling helpers: tests wait for outcomes, never for fixed durations."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, timeout: float = 30.0,
                     interval: float = 0.05, message: str = "condition") -> None:
    """Return as soon as ``check()`` is true; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


async def bus_settled(bus, *, timeout: float = 30.0) -> None:
    """Wait until every consumer of the in-memory bus ``bus`` (or the traced wrapper around it)
    has handled everything published so far."""
    memory = getattr(bus, "inner", bus)
    await eventually(memory.caught_up, timeout=timeout, interval=0.02, message="every consumer to catch up")
