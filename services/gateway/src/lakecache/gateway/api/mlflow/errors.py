"""MLflow's error JSON on MLflow's paths: one translation of the gateway's problem documents.

The gateway's middlewares (input guard, authentication, problems) answer every failure as an
RFC 9457 problem document. The ``mlflow`` client reads ``{"error_code", "message"}`` instead,
and some of its logic depends on the code (``set_experiment`` creates an experiment only after
``RESOURCE_DOES_NOT_EXIST``), so :func:`mlflow_error_middleware`, installed outside all of
them, rewrites a problem answered under ``/api/2.0/mlflow*`` into that shape: same status, the
problem's ``detail`` as the message, the code from the status.

One exception to "same status": a request naming a run or experiment id the gateway never
handed out is denied by the auth middleware (no project, nothing to authorize against), which
MLflow clients expect as ``404 RESOURCE_DOES_NOT_EXIST``. The permission lookups mark such a
request (:func:`unknown`), and the denial is answered as that 404 here (the audit log keeps the
denial).
"""

from __future__ import annotations

import json
import logging
from typing import NoReturn

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, Field

from lakecache.core.errors import NotFound

log = logging.getLogger(__name__)

PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow")
_PROBLEM = "application/problem+json"
_UNKNOWN = web.RequestKey("lakecache_mlflow_unknown", str)
_KEPT_HEADERS = (hdrs.WWW_AUTHENTICATE, "X-Request-Id")

#: MLflow's error codes (``mlflow.protos.databricks_pb2.ErrorCode``) for the gateway's statuses.
CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class MlflowError(BaseModel):
    """An error as MLflow's tracking server answers it."""

    error_code: str = Field(description="MLflow's error code, e.g. `RESOURCE_DOES_NOT_EXIST`.")
    message: str = Field(description="What failed, and what to do.")


def unknown(request: web.Request, message: str) -> NoReturn:
    """Raise ``NotFound`` for an id the gateway never handed out, marking ``request`` so that
    the denial it leads to is answered ``404 RESOURCE_DOES_NOT_EXIST``."""
    request[_UNKNOWN] = message
    raise NotFound(message)


def error_code(status: int, *, routed: bool = True) -> str:
    if not routed and status in (404, 405):
        return "ENDPOINT_NOT_FOUND"  # no such MLflow endpoint here (see docs/gateway.md)
    if status in CODES:
        return CODES[status]
    return "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"


def mlflow_error(status: int, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:
    body = MlflowError(error_code=code or error_code(status), message=message)
    return web.Response(body=body.model_dump_json(), status=status, headers=headers,
                        content_type="application/json")


def _translated(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if response.prepared or not isinstance(response, web.Response) or response.content_type != _PROBLEM:
        return response
    try:
        detail = str(json.loads(response.body or b"{}").get("detail") or response.reason)
    except (ValueError, TypeError, AttributeError):
        detail = response.reason or f"status {response.status}"
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    missing = request.get(_UNKNOWN)
    if missing is not None and response.status == 403:
        return mlflow_error(404, missing, headers=headers)
    routed = request.match_info.http_exception is None
    return mlflow_error(response.status, detail, code=error_code(response.status, routed=routed), headers=headers)


def mlflow_error_middleware() -> Middleware:
    """The middleware answering MLflow's error JSON on MLflow's paths (install it first)."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIXES):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            routed = request.match_info.http_exception is None
            return mlflow_error(exc.status, exc.text or exc.reason, code=error_code(exc.status, routed=routed))
        except Exception:  # the middlewares inside answer everything they know; this is a bug
            log.exception("%s %s failed", request.method, request.path)
            return mlflow_error(500, "the gateway failed unexpectedly; its log has the details")
        return _translated(request, response)

    return middleware
