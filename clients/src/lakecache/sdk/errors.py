"""What the gateway refused or failed, as exceptions callers catch by meaning, not by HTTP status.

Every failure of a call to the gateway — the catalog's routes behind it, a site's cacher, the
evictor, a lease — raises a ``GatewayError`` subclass chosen by the answer's meaning, each also
the matching port error of ``lakecache.core.errors`` where there is one:

| answer | exception | also |
|---|---|---|
| 401 | ``GatewayUnauthenticated`` (no token, or one unknown, revoked or expired) | |
| 403 | ``GatewayForbidden`` (the token's roles do not allow it) | ``PermissionDenied`` |
| 404 | ``GatewayNotFound`` | ``NotFound`` |
| 409, 412 | ``GatewayConflict`` | ``Conflict`` |
| 400, 413, 422 | ``GatewayInvalid`` (``errors`` lists what was refused) | ``InvalidArgument`` |
| 5xx, no answer | ``GatewayUnavailable`` (retry later) | ``Unavailable`` |

The message says what failed, with which input, and what to do; ``status``, ``title``,
``detail`` and ``errors`` keep the RFC 9457 problem's parts.

Waiting for a copy (``lakecache.use``) adds three that are no answer of the gateway:
``CopyNotReady`` (also ``Conflict``), ``CopyWaitTimeout`` (also ``TimeoutError``) and
``CopyFillFailed``.
"""

from __future__ import annotations

from typing import Any

from lakecache.core.errors import (
    Conflict,
    InvalidArgument,
    LakeCacheError,
    NotFound,
    PermissionDenied,
    Unavailable,
)


class GatewayError(LakeCacheError):
    """The gateway refused or failed a request. ``errors`` lists the problem's items: ``{path,
    reason}`` for a refused file, ``{location, message}`` for a refused input."""

    def __init__(self, message: str, *, status: int = 0, title: str = "", detail: str = "",
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []


class GatewayUnauthenticated(GatewayError):
    """The gateway wants a valid token (401): none was sent, or it is unknown, revoked or expired."""


class GatewayForbidden(GatewayError, PermissionDenied):
    """The token is valid but its roles do not allow this (403), e.g. no role in the project."""


class GatewayNotFound(GatewayError, NotFound):
    """The dataset, ref, tag, site, volume, copy or lease does not exist (for this project)."""


class GatewayConflict(GatewayError, Conflict):
    """The request met existing state: a dataset with that name, a moved head, a tag without
    force, a copy that is not ready, nothing to evict."""


class GatewayInvalid(GatewayError, InvalidArgument):
    """The request was refused as invalid (a bad name, unsafe paths in a commit, a body too large)."""


class GatewayUnavailable(GatewayError, Unavailable):
    """The gateway (or a service behind it) could not be reached or failed on its side; retry later."""


#: What to do about a 401, in every message about one.
TOKEN_HINT = ("Log in with `lakecache login` or set LAKECACHE_TOKEN to an API token, or run `lakecache up`: it "
              "writes an administrator token to "
              "<home>/admin-token (home: LAKECACHE_HOME, default .lakecache), which is used when readable.")

_BY_STATUS: dict[int, type[GatewayError]] = {
    401: GatewayUnauthenticated, 403: GatewayForbidden, 404: GatewayNotFound, 409: GatewayConflict,
    412: GatewayConflict, 400: GatewayInvalid, 413: GatewayInvalid, 422: GatewayInvalid,
}


def error_type(status: int) -> type[GatewayError]:
    """The exception for an answer with HTTP ``status`` (0: no answer)."""
    if status >= 500 or status == 0:
        return GatewayUnavailable
    return _BY_STATUS.get(status, GatewayError)


def problem_error(what: str, status: int, body: Any, *, token_sent: bool | None = None) -> GatewayError:
    """The ``GatewayError`` for an RFC 9457 problem (or any other error body) answering ``what``;
    a 401 says whether a token was sent (when known) and how to set one."""
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
    return error_type(status)(message, status=status, title=title, detail=detail, errors=errors)


def _error_line(error: dict[str, Any]) -> str:
    """One item of a problem's ``errors``: the catalog's ``{path, reason}`` (a refused file) or the
    gateway's ``{location, message}`` (a refused input, e.g. ``query.project``)."""
    if "location" in error and "path" not in error:
        return f"{error.get('location')}: {error.get('message')}"
    return f"{error.get('path')!r}: {error.get('reason')}"


class CopyNotReady(Conflict):
    """A job asked for a copy that is not ready at its site (``on_miss="fail"``, or a wait that
    timed out: ``CopyWaitTimeout``). ``state`` is the copy's state then (``missing`` when the
    project never asked for it there)."""

    def __init__(self, message: str, *, project: str, site: str, commit_id: str, state: str) -> None:
        super().__init__(message)
        self.project, self.site, self.commit_id, self.state = project, site, commit_id, state


class CopyWaitTimeout(CopyNotReady, TimeoutError):
    """The copy did not become ready within the time a job gave it."""


class CopyFillFailed(LakeCacheError):
    """The cacher could not make the copy ready; ``error`` is its reason."""

    def __init__(self, message: str, *, project: str, site: str, commit_id: str, error: str) -> None:
        super().__init__(message)
        self.project, self.site, self.commit_id, self.error = project, site, commit_id, error
