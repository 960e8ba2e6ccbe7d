"""Forwarding a request the gateway authorized to the backing service that owns the data.

The backend sees the same path and query (the gateway's public paths are the backends' own),
an assertion signed by the gateway for that one request — who the caller is, the action the
gateway authorized and the project it authorized it in (``lakecache.core.identity``), which
the backend checks against its own route table — and the request id, so their logs and
problems tie to the gateway's. Its answer comes back as is: status, JSON or problem document,
``Location``.

A backend that cannot be reached is ``Unavailable`` (503 with the service named), not a 500:
the request was fine, and retrying later is the right move. A backend that refuses the
gateway's own signature (401) is misconfigured keys, also a 503 for the caller, with the reason
for the operator.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import hdrs, web
from yarl import URL

from lakecache.core.errors import Unavailable
from lakecache.core.identity import mint_assertion
from lakecache.gateway.auth.context import REQUEST_ID_KEY, granted_of, principal_of
from lakecache.gateway.upstream.services import upstreams_of

REQUEST_ID_HEADER = "X-Request-Id"
_PASSED_HEADERS = (hdrs.CONTENT_TYPE, hdrs.LOCATION)
_RELAYED_HEADERS = (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH, "Digest")
Body = bytes | AsyncIterable[bytes] | None


def _headers(request: web.Request, audience: str, method: str, url: URL, grant: tuple[str, str | None],
             content_type: str | None) -> dict[str, str]:
    upstreams = upstreams_of(request)
    action, project = grant
    assertion = mint_assertion(upstreams.signing_key, audience=audience, subject=principal_of(request).subject,
                               action=action, project=project, method=method, target=url.raw_path_qs,
                               ttl_seconds=upstreams.assertion_ttl_seconds)
    headers = {hdrs.AUTHORIZATION: f"Bearer {assertion}", hdrs.ACCEPT: "application/json"}
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    if content_type:
        headers[hdrs.CONTENT_TYPE] = content_type
    return headers


async def _call(request: web.Request, base: str, method: str, path_qs: str, body: Body,
                content_type: str | None, grant: tuple[str, str | None]) -> tuple[int, bytes, dict[str, str]]:
    upstreams = upstreams_of(request)
    # Sent exactly as signed: the assertion names this raw target.
    url = URL(base.rstrip("/") + path_qs, encoded=True)
    audience = upstreams.name_of(base)
    started = time.perf_counter()
    try:
        async with upstreams.session.request(method, url, data=body, allow_redirects=False,
                                             headers=_headers(request, audience, method, url, grant,
                                                              content_type)) as answer:
            payload = await answer.read()
            kept = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
            upstreams.observe(base, f"{answer.status // 100}xx", time.perf_counter() - started)
            if answer.status == 401:
                raise Unavailable(f"the {audience} at {base} refused the gateway's signature ({_detail(payload)}); "
                                  "an operator must check the installation's service keys (docs/security.md)")
            return answer.status, payload, kept
    except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        upstreams.observe(base, "unavailable", time.perf_counter() - started)
        detail = str(exc) or type(exc).__name__
        raise Unavailable(f"the service at {base} did not answer {method} {path_qs.split('?')[0]} ({detail}); "
                          "retry later, or ask an operator whether it is running") from None


def _detail(payload: bytes) -> str:
    try:
        return str(json.loads(payload).get("detail", "no detail"))[:300]
    except (ValueError, AttributeError):
        return "no detail"


async def forward(request: web.Request, base: str, *, body: Body = None, stream: bool = False,
                  content_type: str | None = None, target: str | None = None) -> web.Response:
    """``request``'s method, path and query sent to the service at ``base``; its answer returned.

    ``body`` is sent as given (with ``content_type``); ``stream`` sends the request's own body
    as it arrives instead (commit uploads), with the request's content type. ``target`` (a
    percent-encoded path and query) replaces the request's own where the gateway's path is not
    the service's (MLflow's routes).
    """
    if stream:
        body, content_type = request.content.iter_chunked(1 << 16), request.headers.get(hdrs.CONTENT_TYPE)
    status, payload, headers = await _call(request, base, request.method, target or request.rel_url.raw_path_qs,
                                           body, content_type, granted_of(request))
    return web.Response(status=status, body=payload, headers=headers)


async def upstream_json(request: web.Request, base: str, path: str, *, action: str, project: str | None,
                        query: Mapping[str, str] | None = None, method: str = "GET",
                        json_body: Any = None) -> tuple[int, Any]:
    """``method base + path`` (already percent-encoded) for the gateway's own use (a lookup), as
    the caller, for ``action`` in ``project`` — which the request's own authorization must imply
    (an editor's cache request may read the dataset's refs): (status, JSON). ``json_body`` is
    sent as JSON."""
    path_qs = path + ("?" + urlencode(query) if query else "")
    body = None if json_body is None else json.dumps(json_body, default=str).encode()
    status, payload, _ = await _call(request, base, method, path_qs, body,
                                     None if body is None else "application/json", (action, project))
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        raise Unavailable(f"the service at {base} answered GET {path} with something that is not JSON "
                          f"(status {status})") from None


async def relay_download(request: web.Request, base: str, *, target: str | None = None) -> web.StreamResponse:
    """``request`` forwarded to ``base`` (at ``target``, as :func:`forward`) with the answer's
    body streamed back as it arrives (a file download: never whole in the gateway's memory); an
    error answer comes back as is."""
    upstreams = upstreams_of(request)
    url = URL(base.rstrip("/") + (target or request.rel_url.raw_path_qs), encoded=True)
    audience = upstreams.name_of(base)
    started = time.perf_counter()
    try:
        async with upstreams.session.request(request.method, url, allow_redirects=False,
                                             headers=_headers(request, audience, request.method, url,
                                                              granted_of(request), None)) as answer:
            upstreams.observe(base, f"{answer.status // 100}xx", time.perf_counter() - started)
            if answer.status != 200:
                kept = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
                return web.Response(status=answer.status, body=await answer.read(), headers=kept)
            response = web.StreamResponse(headers={name: answer.headers[name] for name in _RELAYED_HEADERS
                                                   if name in answer.headers})
            await response.prepare(request)
            async for chunk in answer.content.iter_chunked(1 << 16):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        upstreams.observe(base, "unavailable", time.perf_counter() - started)
        raise Unavailable(f"the service at {base} did not answer {request.method} {request.path} "
                          f"({str(exc) or type(exc).__name__}); retry later") from None
