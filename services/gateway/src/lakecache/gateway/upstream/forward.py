"""Forwarding a request the gateway authorized to the backing service that owns the data.

The backend sees the same path and query (the gateway's public paths are the backends' own),
the caller as ``X-LakeCache-User`` — always set by the gateway, never taken from the client,
since backends trust it — and the request id, so their logs and problems tie to the gateway's.
Its answer comes back as is: status, JSON or problem document, ``Location``.

A backend that cannot be reached is ``Unavailable`` (503 with the service named), not a 500:
the request was fine, and retrying later is the right move.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import hdrs, web

from lakecache.core.errors import Unavailable
from lakecache.core.runtime.problems import USER_HEADER
from lakecache.gateway.auth.context import REQUEST_ID_KEY, principal_of
from lakecache.gateway.upstream.services import upstreams_of

REQUEST_ID_HEADER = "X-Request-Id"
_PASSED_HEADERS = (hdrs.CONTENT_TYPE, hdrs.LOCATION)
Body = bytes | AsyncIterable[bytes] | None


def _headers(request: web.Request, content_type: str | None) -> dict[str, str]:
    headers = {USER_HEADER: principal_of(request).subject, hdrs.ACCEPT: "application/json"}
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    if content_type:
        headers[hdrs.CONTENT_TYPE] = content_type
    return headers


async def _call(request: web.Request, base: str, method: str, path_qs: str, body: Body,
                content_type: str | None) -> tuple[int, bytes, dict[str, str]]:
    upstreams = upstreams_of(request)
    url = base.rstrip("/") + path_qs
    started = time.perf_counter()
    try:
        async with upstreams.session.request(method, url, data=body, headers=_headers(request, content_type),
                                             allow_redirects=False) as answer:
            payload = await answer.read()
            kept = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
            upstreams.observe(base, f"{answer.status // 100}xx", time.perf_counter() - started)
            return answer.status, payload, kept
    except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        upstreams.observe(base, "unavailable", time.perf_counter() - started)
        detail = str(exc) or type(exc).__name__
        raise Unavailable(f"the service at {base} did not answer {method} {path_qs.split('?')[0]} ({detail}); "
                          "retry later, or ask an operator whether it is running") from None


async def forward(request: web.Request, base: str, *, body: Body = None, stream: bool = False,
                  content_type: str | None = None) -> web.Response:
    """``request``'s method, path and query sent to the service at ``base``; its answer returned.

    ``body`` is sent as given (with ``content_type``); ``stream`` sends the request's own body
    as it arrives instead (commit uploads), with the request's content type.
    """
    if stream:
        body, content_type = request.content.iter_chunked(1 << 16), request.headers.get(hdrs.CONTENT_TYPE)
    status, payload, headers = await _call(request, base, request.method, request.rel_url.raw_path_qs, body,
                                           content_type)
    return web.Response(status=status, body=payload, headers=headers)


async def upstream_json(request: web.Request, base: str, path: str, *,
                        query: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """``GET base + path`` (already percent-encoded) for the gateway's own use (a lookup), as the
    caller: (status, JSON)."""
    path_qs = path + ("?" + urlencode(query) if query else "")
    status, payload, _ = await _call(request, base, "GET", path_qs, None, None)
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        raise Unavailable(f"the service at {base} answered GET {path} with something that is not JSON "
                          f"(status {status})") from None
