"""Handlers that forward an authorized, validated request to the service owning its data.

    Operation("GET", "/api/v1/datasets/{project}/{name}", proxy("show_dataset", to=CATALOG), …)

The JSON body is sent as the gateway validated it (re-serialized from its model, so the
backend reads exactly what the reference documents; an empty body becomes the model's
defaults); a streamed body (commit uploads) is passed through as it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from lakecache.gateway.upstream.forward import forward, relay_download
from lakecache.gateway.upstream.services import Upstreams, upstreams_of

Target = Callable[[Upstreams, web.Request], str]


def CATALOG(upstreams: Upstreams, request: web.Request) -> str:  # noqa: N802 - used like a constant
    return upstreams.catalog


def EVICTOR(upstreams: Upstreams, request: web.Request) -> str:  # noqa: N802
    return upstreams.evictor


def SITE_CACHER(upstreams: Upstreams, request: web.Request) -> str:  # noqa: N802
    return upstreams.cacher(request.match_info["site"])


def TRACKER(upstreams: Upstreams, request: web.Request) -> str:  # noqa: N802
    return upstreams.tracker


_SERVICE_OF: dict[Target, str] = {CATALOG: "catalog", EVICTOR: "evictor", SITE_CACHER: "cacher", TRACKER: "tracker"}
_SERVICE = "__lakecache_forwarded_to__"


def forwarded_to(handler: object) -> str | None:
    """The service a :func:`proxy` handler forwards to (``catalog``, ``cacher``, ``evictor``), for
    the test that keeps the gateway's permissions equal to the actions the services declare."""
    found = getattr(handler, _SERVICE, None)
    return found if isinstance(found, str) else None


def proxy(name: str, *, to: Target, stream: bool = False,
          narrow: Callable[[web.Request, Any], Any] | None = None):
    """A handler named ``name`` (the operation id) forwarding to the service ``to`` picks.

    ``narrow(request, answer)`` trims a successful JSON answer to what the caller may see, where
    one route's permission cannot say it (each project's part of a site-wide listing)."""

    async def handler(request: web.Request, body: BaseModel | None = None, **_validated: BaseModel) -> web.Response:
        payload = body.model_dump_json(exclude_unset=True).encode() if body is not None else None
        answer = await forward(request, to(upstreams_of(request), request), body=payload, stream=stream,
                               content_type="application/json" if payload is not None else None)
        if narrow is None or answer.status != 200 or not isinstance(answer.body, bytes):
            return answer
        narrowed = narrow(request, json.loads(answer.body))
        return web.Response(status=200, body=json.dumps(narrowed).encode(), content_type="application/json")

    handler.__name__ = handler.__qualname__ = name
    setattr(handler, _SERVICE, _SERVICE_OF.get(to, "unknown"))
    return handler


def relay(name: str, *, to: Target):
    """A handler named ``name`` forwarding a download to the service ``to`` picks, its answer
    streamed back (``forward`` reads an answer whole)."""

    async def handler(request: web.Request, **_validated: BaseModel) -> web.StreamResponse:
        return await relay_download(request, to(upstreams_of(request), request))

    handler.__name__ = handler.__qualname__ = name
    setattr(handler, _SERVICE, _SERVICE_OF.get(to, "unknown"))
    return handler
