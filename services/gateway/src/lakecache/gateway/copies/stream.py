"""A copy's live progress as Server-Sent Events (``text/event-stream``).

One ``event: status`` message with the whole status now, then one at every change, until the
copy is ready, failed or evicted (then the stream ends) or the client goes away. Changes this
process applied wake the stream at once; it also re-reads the status every
``status_poll_seconds``, since another gateway instance may have applied them. Comments keep
idle connections open through proxies that close silent ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from lakecache.gateway.copies.status import TERMINAL, copy_status_of, overall_state, status_id

SSE_SETTINGS_KEY = web.AppKey("lakecache_sse_settings", tuple)  # (poll seconds, heartbeat seconds)


def _message(status: BaseModel, version: int) -> bytes:
    return f"event: status\nid: {version}\ndata: {status.model_dump_json()}\n\n".encode()


async def stream_status(request: web.Request, doc: dict[str, Any],
                        render: Callable[[dict[str, Any]], BaseModel]) -> web.StreamResponse:
    poll, heartbeat = request.app.get(SSE_SETTINGS_KEY, (1.0, 15.0))
    view = copy_status_of(request)
    key = status_id(doc["site"], doc["project"], doc["commit_id"])
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    changed = view.changes.subscribe(key)
    loop = asyncio.get_running_loop()
    try:
        sent_version, quiet_since = None, loop.time()
        while True:
            if doc.get("version") != sent_version:
                await response.write(_message(render(doc), doc.get("version", 0)))
                sent_version, quiet_since = doc.get("version"), loop.time()
                if overall_state(doc) in TERMINAL:
                    break
            elif loop.time() - quiet_since >= heartbeat:
                await response.write(b": keep-alive\n\n")
                quiet_since = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), poll)
            changed.clear()
            doc = await view.get(doc["site"], doc["project"], doc["commit_id"]) or doc
    except ConnectionResetError:
        return response  # the client went away: nothing more to send it
    finally:
        view.changes.unsubscribe(key, changed)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response
