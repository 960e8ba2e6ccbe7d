"""RFC 9457 problem details: one error shape for every service's API under ``/api/``.

A service builds its middleware from the errors it adds (most specific first) on top of the
ports' shared errors; aiohttp's own HTTP errors (unknown route, wrong method) become problems
too, and anything unexpected is logged and answered as a 500 without internals.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from aiohttp import web

from lakecache.core.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unavailable,
)

log = logging.getLogger(__name__)

TYPE_PREFIX = "urn:lakecache:problem:"


class BadRequestBody(InvalidArgument):
    """The request body (JSON, an NDJSON line) cannot be read."""


@dataclass(frozen=True)
class ProblemType:
    """How an exception class is answered: status, ``type`` suffix and title."""

    exception: type[Exception]
    status: int
    kind: str
    title: str


SHARED_PROBLEMS: tuple[ProblemType, ...] = (
    ProblemType(BadRequestBody, 400, "bad-request-body", "Unreadable request body"),
    ProblemType(PermissionDenied, 403, "forbidden", "Forbidden"),
    ProblemType(NotFound, 404, "not-found", "Not found"),
    ProblemType(Conflict, 409, "conflict", "Conflict"),
    ProblemType(PreconditionFailed, 409, "conflict", "Conflict"),
    ProblemType(InvalidArgument, 400, "invalid-argument", "Invalid argument"),
    ProblemType(Unavailable, 503, "unavailable", "A backing service is unavailable"),
)


def problem(status: int, kind: str, title: str, detail: str, instance: str, **extra: Any) -> web.Response:
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}
    return web.json_response(body, status=status, content_type="application/problem+json")


def problem_middleware(
    service: str,
    specific: Sequence[ProblemType] = (),
    extensions: Callable[[Exception], dict[str, Any]] | None = None,
):
    """The middleware of ``service``: its ``specific`` problems first, then the shared ones.
    ``extensions`` may add members (e.g. a per-path ``errors`` list) for an exception."""
    mapping = (*specific, *SHARED_PROBLEMS)
    handled = tuple(p.exception for p in mapping)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if exc.status == 413:
                return problem(413, "payload-too-large", "Payload too large",
                               f"{request.method} {request.path}: the body is larger than this service accepts "
                               f"({exc.text}); send less", request.path)
            return problem(exc.status, f"http-{exc.status}", exc.reason,
                           f"{request.method} {request.path}: {exc.text or exc.reason}", request.path)
        except handled as exc:
            kind = next(p for p in mapping if isinstance(exc, p.exception))
            extra = extensions(exc) if extensions is not None else {}
            return problem(kind.status, kind.kind, kind.title, str(exc), request.path, **extra)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return problem(500, "internal", "Internal error",
                           f"the {service} failed unexpectedly; the service log has the details", request.path)

    return middleware


#: Deepest nesting a JSON body may have: the services' bodies are a few levels deep, and
#: refusing before parsing keeps a hostile body from exhausting the parser's recursion.
MAX_JSON_DEPTH = 32
# A JSON string, escapes included: cut out before the brackets are counted.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256)]


def json_nesting(raw: bytes) -> int:
    """How deep ``raw`` nests arrays and objects.

    Linear, and in C but for one pass over the brackets: strings are cut out (brackets inside
    them do not count), everything but brackets dropped, and the running depth's maximum taken.
    Malformed JSON gets some answer; the parser refuses it afterwards."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or ``BadRequestBody`` saying what is wrong. Bodies
    over the app's size limit are answered 413 by the problem middleware."""
    raw = await request.read()
    if json_nesting(raw) > MAX_JSON_DEPTH:
        raise BadRequestBody(f"the request body nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestBody(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequestBody(f"the request body must be a JSON object, got {type(body).__name__}")
    return body


def check_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """A ``?limit=`` page size: ``default`` when absent, else an integer from 1 to ``maximum``."""
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise InvalidArgument(f"limit must be an integer from 1 to {maximum}, got {raw!r}")
    return limit
