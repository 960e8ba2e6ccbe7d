"""RFC 9457 problem details for every error the catalog API answers with.

One middleware maps exceptions to ``application/problem+json``: the domain's own errors,
the ports' shared errors (``lakecache.core.errors``) and aiohttp's HTTP errors (unknown
route, wrong method), so clients parse one error shape everywhere under ``/api/``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from lakecache.catalog.domain import AmbiguousRef, BadRequestBody, DatasetInUse, HeadMoved, TagExists
from lakecache.catalog.ingest import EmptyCommit
from lakecache.core.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unavailable,
)
from lakecache.core.manifest import UnsafePaths

log = logging.getLogger(__name__)
TYPE_PREFIX = "urn:lakecache:problem:"

# Most specific first: the first class an error is an instance of decides.
_MAPPING: list[tuple[type[Exception], int, str, str]] = [
    (UnsafePaths, 422, "unsafe-paths", "Unsafe paths in the commit"),
    (EmptyCommit, 422, "empty-commit", "Empty commit"),
    (AmbiguousRef, 400, "ambiguous-ref", "Ambiguous ref"),
    (BadRequestBody, 400, "bad-request-body", "Unreadable request body"),
    (DatasetInUse, 409, "dataset-in-use", "Dataset in use"),
    (HeadMoved, 409, "head-moved", "Head moved"),
    (TagExists, 409, "tag-exists", "Tag points elsewhere"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (PreconditionFailed, 409, "conflict", "Conflict"),
    (InvalidArgument, 400, "invalid-argument", "Invalid argument"),
    (Unavailable, 503, "unavailable", "A backing service is unavailable"),
]


def problem(status: int, kind: str, title: str, detail: str, instance: str, **extra: Any) -> web.Response:
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}
    return web.json_response(body, status=status, content_type="application/problem+json")


def _extensions(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, UnsafePaths):
        return {"errors": [{"path": p.path, "reason": p.reason} for p in exc.problems], "total": exc.total}
    if isinstance(exc, AmbiguousRef):
        return {"candidates": exc.candidates}
    return {}


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
        cls, status, kind, title = next(m for m in _MAPPING if isinstance(exc, m[0]))
        return problem(status, kind, title, str(exc), request.path, **_extensions(exc))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem(500, "internal", "Internal error",
                       "the catalog failed unexpectedly; the service log has the details", request.path)
