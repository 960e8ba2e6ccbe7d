"""One route's whole declaration: the single source of its routing, permission and OpenAPI entry.

    Operation("POST", "/api/v1/users", create_user, "Create a user", Permission("users:write"),
              body=NewUser, response=User, status=201, errors=(409,), tag="users")

The handler is a plain async function of the request and the validated inputs it declares,
as keyword arguments: ``params`` (path variables), ``query`` and ``body``, each an instance of
the operation's model. It returns an instance of ``response`` (sent with ``status``), a
:class:`Reply` (another status, extra headers), ``None`` for a 204, or — for operations that
declare ``raw_schema`` — an aiohttp response it built itself (the OpenAPI document, HTML, an
event stream). Operations that front a backing service declare ``forwarded``: their handler
returns the backend's response as is, and ``response`` and ``errors`` document it (the tests
validate real backend answers against the same models, so the two cannot drift).

Construction checks what can be checked without a request, so a wrong declaration fails when
the gateway starts instead of when someone calls the route.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from lakecache.gateway.auth import PUBLIC, Permission
from lakecache.gateway.auth.routes import Public
from lakecache.gateway.http.limits import MAX_JSON_BODY

Handler = Callable[..., Awaitable[Any]]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_VARIABLE = re.compile(r"\{([^}:]+)")
_VARIABLE_END = re.compile(r"\{([^}:]+)\}")



@dataclass(frozen=True)
class StreamedBody:
    """A request body the handler streams instead of one the binding validates as JSON (commit
    uploads: a header line, then one entry per line). ``schema`` documents it in the reference."""

    media_type: str
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Reply:
    """A handler's answer with a status or headers other than the operation's defaults."""

    body: BaseModel | None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """What a route is, does and requires. See the module docstring."""

    method: str
    path: str
    handler: Handler
    summary: str
    permission: Permission | Public
    #: The success status; 204 means no body (and no ``response`` model).
    status: int = 200
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    #: The path variables, one field each (names and fields must match exactly).
    params: type[BaseModel] | None = None
    #: Problem statuses the handler may answer besides those the declaration implies
    #: (400 for inputs, 413 for bodies, 401/403/503 behind a permission).
    errors: tuple[int, ...] = ()
    tag: str = "gateway"
    description: str = ""
    #: For handlers that build their own response: its media type and schema.
    media_type: str = "application/json"
    raw_schema: Mapping[str, Any] | None = None
    max_body: int = MAX_JSON_BODY
    #: The handler returns the backing service's response (see the module docstring).
    forwarded: bool = False
    streamed_body: StreamedBody | None = None
    #: Other success statuses with the same response model (201 created vs 200 unchanged).
    alternatives: tuple[int, ...] = ()
    #: What a path variable matches when not one segment: ``{"path": ".+"}`` for a file path.
    patterns: Mapping[str, str] = field(default_factory=dict)
    #: The shape of its error answers (``application/json``) when not problem documents: MLflow's
    #: routes answer MLflow's error JSON (``lakecache.gateway.api.mlflow.errors``).
    error_model: type[BaseModel] | None = None

    def __post_init__(self) -> None:
        where = f"{self.method} {self.path}"
        if self.method not in _METHODS:
            raise ValueError(f"{where}: method must be one of {', '.join(sorted(_METHODS))}")
        if not self.path.startswith("/"):
            raise ValueError(f"{where}: the path must start with '/'")
        if not self.summary:
            raise ValueError(f"{where}: give a summary (it is the operation's title in the API reference)")
        if not isinstance(self.permission, Permission | Public):
            raise ValueError(f"{where}: permission must be a Permission or PUBLIC")
        declared = set(self.params.model_fields) if self.params else set()
        if declared != self.variables:
            raise ValueError(f"{where}: the params model must have exactly the path variables "
                             f"{sorted(self.variables)}, has {sorted(declared)}")
        if not set(self.patterns) <= self.variables:
            raise ValueError(f"{where}: patterns name variables the path lacks: "
                             f"{sorted(set(self.patterns) - self.variables)}")
        if isinstance(self.permission, Permission):
            missing = self.permission.path_variables - self.variables
            if missing:
                raise ValueError(f"{where}: its permission reads path variables it lacks: {sorted(missing)}")
        if (self.body is not None or self.streamed_body is not None) and self.method not in _WITH_BODY:
            raise ValueError(f"{where}: only {', '.join(sorted(_WITH_BODY))} take a body")
        if self.body is not None and self.streamed_body is not None:
            raise ValueError(f"{where}: declare either a JSON body model or a streamed body, not both")
        if self.raw_schema is not None:
            if self.response is not None:
                raise ValueError(f"{where}: declare either a response model or a raw schema, not both")
        elif (self.status == 204) != (self.response is None):
            raise ValueError(f"{where}: status 204 goes with no response model, any other status with one")

    @property
    def variables(self) -> set[str]:
        return set(_VARIABLE.findall(self.path))

    @property
    def route_path(self) -> str:
        """The path as aiohttp routes it: ``{name}`` with the variable's pattern, if declared."""
        return _VARIABLE_END.sub(lambda m: f"{{{m.group(1)}:{self.patterns[m.group(1)]}}}"
                                 if m.group(1) in self.patterns else m.group(0), self.path)

    @property
    def operation_id(self) -> str:
        """The handler's name: unique in a registry, stable for generated clients."""
        return self.handler.__name__

    @property
    def public(self) -> bool:
        return self.permission is PUBLIC

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def implied_errors(operation: Operation) -> list[int]:
    """Every problem status the operation may answer, declared or implied, in order."""
    statuses = set(operation.errors)
    if operation.params or operation.query or operation.body:
        statuses.add(400)
    if operation.body or operation.streamed_body:
        statuses.add(413)
    if not operation.public:
        statuses |= {401, 403, 503}
    return sorted(statuses)


def as_response(operation: Operation, result: Any) -> web.StreamResponse:
    """The handler's ``result`` as the declared response; a mismatch is a bug (``TypeError``, 500)."""
    if isinstance(result, web.StreamResponse):
        if operation.raw_schema is None and not operation.forwarded:
            raise TypeError(f"{operation} returned an aiohttp response but declares a response model")
        return result
    reply = result if isinstance(result, Reply) else Reply(result)
    status = reply.status or operation.status
    if reply.body is None:
        if status != 204:
            raise TypeError(f"{operation} returned no body for status {status}")
        return web.Response(status=204, headers=reply.headers)
    if operation.response is None or not isinstance(reply.body, operation.response):
        raise TypeError(f"{operation} returned {type(reply.body).__name__}, declares {operation.response}")
    return web.Response(body=reply.body.model_dump_json(), status=status, headers=reply.headers,
                        content_type="application/json")
