"""RFC 9457 problem details for every error the cacher API answers with (as in the catalog)."""

from __future__ import annotations

import logging

from aiohttp import web

from lakecache.cacher.storage import WrongSite
from lakecache.core.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed, Unavailable

log = logging.getLogger(__name__)
TYPE_PREFIX = "urn:lakecache:problem:"


class NotReady(PreconditionFailed):
    """The copy is not ready (a lease needs a ready copy)."""


# Most specific first: the first class an error is an instance of decides.
_MAPPING: list[tuple[type[Exception], int, str, str]] = [
    (WrongSite, 404, "wrong-site", "Site served elsewhere"),
    (NotReady, 409, "copy-not-ready", "Copy not ready"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (PreconditionFailed, 409, "conflict", "Conflict"),
    (InvalidArgument, 400, "invalid-argument", "Invalid argument"),
    (Unavailable, 503, "unavailable", "A backing service is unavailable"),
]


def problem(status: int, kind: str, title: str, detail: str, instance: str) -> web.Response:
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": detail, "instance": instance}
    return web.json_response(body, status=status, content_type="application/problem+json")


@web.middleware
async def problem_middleware(request: web.Request, handler):
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, f"http-{exc.status}", exc.reason,
                       f"{request.method} {request.path}: {exc.text or exc.reason}", request.path)
    except tuple(cls for cls, *_ in _MAPPING) as exc:
        _, status, kind, title = next(m for m in _MAPPING if isinstance(exc, m[0]))
        return problem(status, kind, title, str(exc), request.path)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem(500, "internal", "Internal error",
                       "the cacher failed unexpectedly; the service log has the details", request.path)
