"""The operations of an app: one list that becomes the aiohttp routes, the route policy and the
OpenAPI document, so the three cannot disagree.

* :meth:`Registry.routes` — one aiohttp route per operation, its handler wrapped by the binding
  and, behind a permission, by :func:`~lakecache.gateway.auth.requires` (which is how the auth
  middleware finds the permission);
* :meth:`Registry.policy` — the gateway's route policy plus the public operations' paths;
* :func:`~lakecache.gateway.http.openapi.openapi_document` — reads the same operations.

The forwarded routes of the catalog, cacher and evictor are operations too (their handler a
forwarder, their models the backend's contract: ``lakecache.gateway.api.backends``), so they get
the same three.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiohttp import web

from lakecache.gateway.auth import Permission, RoutePolicy, requires
from lakecache.gateway.http.binding import endpoint
from lakecache.gateway.http.operation import Operation


class Registry:
    """An ordered, checked collection of operations (the order is the API reference's)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = tuple(operations)
        seen: dict[tuple[str, str], Operation] = {}
        ids: dict[str, Operation] = {}
        for operation in self.operations:
            key = (operation.method, operation.path)
            if key in seen:
                raise ValueError(f"{operation} is declared twice")
            if operation.operation_id in ids:
                raise ValueError(f"{operation} and {ids[operation.operation_id]} share the handler name "
                                 f"{operation.operation_id!r}; operation ids must be unique")
            seen[key], ids[operation.operation_id] = operation, operation

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def find(self, method: str, path: str) -> Operation | None:
        """The operation declared for ``method`` and the path template ``path``."""
        return next((o for o in self.operations if (o.method, o.path) == (method, path)), None)

    @property
    def public_paths(self) -> frozenset[str]:
        return frozenset(o.path for o in self.operations if o.public)

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for operation in self.operations:
            handler = endpoint(operation)
            if isinstance(operation.permission, Permission):
                handler = requires(operation.permission)(handler)
            # No implicit HEAD route (aiohttp adds one to every GET): only declared methods exist.
            options = {"allow_head": False} if operation.method == "GET" else {}
            routes.append(web.route(operation.method, operation.route_path, handler, **options))
        return routes

    def policy(self, base: RoutePolicy) -> RoutePolicy:
        """``base`` (the shared probes) with this registry's public operations added."""
        return RoutePolicy(base.public | self.public_paths, base.by_path)
