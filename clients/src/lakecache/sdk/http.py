"""Talking to the gateway: one request, its RFC 9457 problem turned into an exception people can act on.

Failures raise a ``CatalogError`` subclass that is also the matching port error (``NotFound``,
``Conflict``, ``InvalidArgument``, ``Unavailable``), carrying the problem's ``detail`` and, for
refused commits, the per-path ``errors``; callers catch by meaning, not by HTTP status.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from lakecache.core.errors import Conflict, InvalidArgument, LakeCacheError, NotFound, Unavailable


class CatalogError(LakeCacheError):
    """The catalog refused or failed a request. ``errors`` lists ``{path, reason}`` items."""

    def __init__(self, message: str, *, status: int = 0, title: str = "", detail: str = "",
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []


class CatalogNotFound(CatalogError, NotFound):
    """The dataset, ref or tag does not exist."""


class CatalogConflict(CatalogError, Conflict):
    """The write met existing state (a dataset with that name, a moved head, a tag without force)."""


class CatalogRejected(CatalogError, InvalidArgument):
    """The request was refused as invalid (e.g. unsafe paths in a commit)."""


class CatalogUnavailable(CatalogError, Unavailable):
    """The catalog could not be reached or failed on its side; retry later."""


class CatalogUnauthenticated(CatalogError):
    """The gateway wants a valid token (401): none was sent, or it is unknown, revoked or expired."""


#: What to do about a 401, in every message about one.
TOKEN_HINT = ("Set LAKECACHE_TOKEN to an API token, or run `lakecache up`: it writes an administrator token to "
              "<home>/admin-token (home: LAKECACHE_HOME, default .lakecache), which is used when readable.")


def _error_type(status: int) -> type[CatalogError]:
    if status == 401:
        return CatalogUnauthenticated
    if status == 404:
        return CatalogNotFound
    if status in (409, 412):
        return CatalogConflict
    if status >= 500 or status == 0:
        return CatalogUnavailable
    if status in (400, 422):
        return CatalogRejected
    return CatalogError


async def request_json(session: aiohttp.ClientSession, base_url: str, method: str, path: str, *, what: str,
                       unavailable: type[CatalogError] | None = None, params: dict[str, Any] | None = None,
                       json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None) -> Any:
    """One request to the gateway at ``base_url``; the parsed JSON body, or the problem as an
    exception (``unavailable``, default ``CatalogUnavailable``, when the gateway cannot be reached)."""
    query = {k: str(v) for k, v in (params or {}).items() if v is not None}
    try:
        async with session.request(method, base_url + path, params=query, json=json_body, data=data,
                                   headers=headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise (unavailable or CatalogUnavailable)(
            f"{what}: cannot reach the gateway at {base_url} ({exc or type(exc).__name__}). "
            "Is it running? Set LAKECACHE_API_URL to its address."
        ) from exc
    try:
        body = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = text
    if status >= 400:
        token_sent = "Authorization" in session.headers or "Authorization" in (headers or {})
        raise problem_error(what, status, body, token_sent=token_sent)
    return body


def problem_error(what: str, status: int, body: Any, *, token_sent: bool | None = None) -> CatalogError:
    """A ``CatalogError`` from an RFC 9457 problem (or any other error body); a 401 says whether
    a token was sent (when known) and how to set one."""
    problem = body if isinstance(body, dict) else {}
    title = str(problem.get("title") or f"HTTP {status}")
    detail = str(problem.get("detail") or (body if isinstance(body, str) else "") or "")
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    message = f"{what}: {detail or title}"
    if status == 401:
        refused = {True: "the token was refused", False: "no token was sent"}.get(token_sent, "no valid token")
        message = f"{what}: {refused} ({detail or title}). {TOKEN_HINT}"
    if errors:
        listed = "\n".join(f"  - {_error_line(e)}" for e in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        message += f"\n{listed}{more}"
    return _error_type(status)(message, status=status, title=title, detail=detail, errors=errors)


def _error_line(error: dict[str, Any]) -> str:
    """One item of a problem's ``errors``: the catalog's ``{path, reason}`` (a refused file) or the
    gateway's ``{location, message}`` (a refused input, e.g. ``query.project``)."""
    if "location" in error and "path" not in error:
        return f"{error.get('location')}: {error.get('message')}"
    return f"{error.get('path')!r}: {error.get('reason')}"
