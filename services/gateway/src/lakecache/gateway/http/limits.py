"""Bounds on what a request may carry, checked before any model, permission or backend reads it.

* Path variables and query values are at most :data:`MAX_PARAMETER` characters and contain no
  control characters (``\\x00``-``\\x1f``, ``\\x7f``): they name projects, datasets, runs, refs
  and copies, and end up in backend paths, logs, audit records and file names.
* A declared ``Content-Length`` above the operation's ``max_body`` is refused before anything
  is read (streamed uploads included); a body without one is read at most up to the app's
  ``client_max_size`` and refused above the operation's limit.
* A JSON body nests at most :data:`MAX_JSON_DEPTH` levels, checked on the bytes before any
  parser sees them (a deeply nested document exhausts recursive parsers).

Every refusal is a problem document: 400 ``invalid-request`` naming the input, or 413
``payload-too-large`` — never aiohttp's plain-text answer and never a 500.
:func:`input_guard_middleware` checks the parameters of every API request before
authentication (no audit record is ever written with a control character in it) and answers the
body refusals raised outside the problem middleware (a permission reading the body's project);
:func:`read_json_body` is how the binding and the permission sources read a JSON body, and
:func:`check_declared_length` how the binding refuses a streamed body by its declared length.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from lakecache.core.runtime.problems import MAX_JSON_DEPTH, json_nesting, problem
from lakecache.gateway.http.problems import FieldError, PayloadTooLarge, RequestInvalid

__all__ = ["MAX_JSON_BODY", "MAX_JSON_DEPTH", "MAX_PARAMETER", "NO_CONTROL", "check_declared_length",
           "input_guard_middleware", "json_nesting", "operation_limit", "read_json_body"]

#: Default body limit: the gateway's own requests are a few fields; anything near this is a
#: mistake or abuse, and refusing it early keeps a client from holding memory in the gateway.
MAX_JSON_BODY = 64 * 1024
#: Longest path variable or query value: a file path (PATH_MAX) is the longest thing one names.
MAX_PARAMETER = 4096
#: A pattern for text that names or identifies something: no control characters.
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIMIT_ATTRIBUTE = "__lakecache_max_body__"


def with_body_limit(handler: Any, limit: int) -> Any:
    """Mark an operation's handler with its body limit (read by :func:`operation_limit`)."""
    setattr(handler, _LIMIT_ATTRIBUTE, limit)
    return handler


def operation_limit(request: web.Request) -> int:
    """The body limit of the operation ``request`` is routed to (the default for other routes)."""
    limit = getattr(request.match_info.handler, _LIMIT_ATTRIBUTE, None)
    return limit if isinstance(limit, int) else MAX_JSON_BODY


def check_declared_length(request: web.Request, limit: int) -> None:
    """``PayloadTooLarge`` when the request declares a body longer than ``limit`` (nothing read)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the request body has {declared} bytes; {request.method} "
                              f"{_template(request)} accepts at most {limit}")


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


_NESTING_CHECKED = web.RequestKey("lakecache_body_nesting_checked", bool)


async def read_json_body(request: web.Request, limit: int | None = None) -> bytes:
    """The body of ``request``, within ``limit`` bytes (default: its operation's) and
    :data:`MAX_JSON_DEPTH` levels of nesting, else ``PayloadTooLarge`` / ``RequestInvalid``.
    aiohttp keeps the bytes, so a second read (the handler after a permission) is free."""
    limit = operation_limit(request) if limit is None else limit
    check_declared_length(request, limit)
    try:
        raw = await request.read()  # bounded by the app's client_max_size when no length was declared
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"the request body is larger than {request.app._client_max_size} bytes; "  # noqa: SLF001
                              f"{request.method} {_template(request)} accepts at most {limit}") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"the request body has {len(raw)} bytes; {request.method} {_template(request)} "
                              f"accepts at most {limit}")
    if not request.get(_NESTING_CHECKED, False):  # a permission's lookup may have read it first
        if json_nesting(raw) > MAX_JSON_DEPTH:
            raise RequestInvalid("body", [FieldError(location="body", message=f"nests deeper than {MAX_JSON_DEPTH} "
                                                     "levels of arrays and objects; send a flatter document")])
        request[_NESTING_CHECKED] = True
    return raw


def _parameter_problems(request: web.Request) -> list[FieldError]:
    found = []
    named = [("path", k, v) for k, v in request.match_info.items()] + [("query", k, v) for k, v in
                                                                          request.query.items()]
    for place, name, value in named:
        shown = _CONTROL.sub("?", name)[:64]
        if len(value) > MAX_PARAMETER:
            found.append(FieldError(location=f"{place}.{shown}", message=f"{len(value)} characters; at most "
                                                                         f"{MAX_PARAMETER} are accepted"))
        elif _CONTROL.search(value) or _CONTROL.search(name):
            found.append(FieldError(location=f"{place}.{shown}", message="contains a control character (U+0000-"
                                                                         "U+001F or U+007F); names and ids never do"))
    return found


def _answer(request: web.Request, exc: RequestInvalid | PayloadTooLarge) -> web.Response:
    if isinstance(exc, PayloadTooLarge):
        return problem(413, "payload-too-large", "Request body too large", str(exc), request.path)
    return problem(400, "invalid-request", "Invalid request", str(exc), request.path,
                   errors=[e.model_dump() for e in exc.errors])


def input_guard_middleware() -> Middleware:
    """The middleware that bounds every API request's parameters (install it first)."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)  # probes and metrics take no input
        try:
            problems = _parameter_problems(request)
            if problems:
                raise RequestInvalid("path or query", problems)
            return await handler(request)
        except (RequestInvalid, PayloadTooLarge) as exc:  # raised before the problem middleware (a permission
            return _answer(request, exc)                    # reading the body's project)
        except web.HTTPRequestEntityTooLarge:
            return _answer(request, PayloadTooLarge(f"the request body is larger than the "
                                                    f"{request.app._client_max_size} bytes this gateway accepts"))  # noqa: SLF001

    return middleware
