"""What a route requires: an action, and where in the request its project (and run) are.

    Permission("datasets:read", project_from="match_info:project")
    Permission("runs:log", project_from=project_of_run, run_from="match_info:run_id")

A source is ``"<where>:<name>"`` with ``where`` one of ``match_info`` (a path variable),
``query``, ``header`` or ``body`` (a field of a JSON-object body; the body is read once, within
the operation's limits, and aiohttp keeps it for the handler — do not use it on streamed
uploads), or an async function
``(request) -> str | None`` for a project that only a lookup knows (the project of the run or
commit the path names). Values that are not non-empty strings count as missing, and a missing
project denies.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from lakecache.gateway.auth.actions import ACTIONS, Scope
from lakecache.gateway.auth.policy import Resource
from lakecache.gateway.http.limits import read_json_body

Reader = Callable[[web.Request], Awaitable[Any]]
Source = str | Reader

_PLACES = ("match_info", "query", "header", "body")


async def _body_field(request: web.Request, name: str) -> Any:
    if not request.can_read_body:
        return None
    raw = await read_json_body(request)  # too large or too deep: refused here, as the handler would
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None  # the handler answers the unreadable body; here it just names no project
    return body.get(name) if isinstance(body, dict) else None


def _reader(source: Source) -> Reader:
    if callable(source):
        return _Lookup(source)
    place, _, name = source.partition(":")
    if place not in _PLACES or not name:
        raise ValueError(f"a permission source is '<where>:<name>' with where one of {', '.join(_PLACES)}, "
                         f"or an async function of the request; got {source!r}")

    async def read(request: web.Request) -> Any:
        if place == "match_info":
            return request.match_info.get(name)
        if place == "query":
            return request.query.get(name)
        if place == "header":
            return request.headers.get(name)
        return await _body_field(request, name)

    return _Lookup(read) if place == "body" else read


class _Lookup:
    """A source that may read the body or ask a backend: skipped for callers without a token."""

    def __init__(self, function: Reader) -> None:
        self.function = function

    async def __call__(self, request: web.Request) -> Any:
        return await self.function(request)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Permission:
    """A route's requirement; checked by the auth middleware before the handler runs.

    Raises ``ValueError`` at construction for an unknown action, a project-scoped action without
    ``project_from`` or a run-bound action without ``run_from`` — route tables fail to build
    instead of routes failing at request time.
    """

    action: str
    project_from: Source | None = None
    run_from: Source | None = None
    _readers: tuple[Reader | None, Reader | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = ACTIONS.get(self.action)
        if spec is None:
            raise ValueError(f"unknown action {self.action!r}; the actions are {', '.join(sorted(ACTIONS))}")
        if spec.scope is Scope.PROJECT and self.project_from is None:
            raise ValueError(f"{self.action} is granted per project: say where the project is (project_from=…)")
        if spec.run_bound and self.run_from is None:
            raise ValueError(f"{self.action} acts on a run: say where the run id is (run_from=…)")
        readers = tuple(None if s is None else _reader(s) for s in (self.project_from, self.run_from))
        object.__setattr__(self, "_readers", readers)

    @property
    def path_variables(self) -> set[str]:
        """The path variables this permission reads (a route must define them)."""
        return {s.partition(":")[2] for s in (self.project_from, self.run_from)
                if isinstance(s, str) and s.startswith("match_info:")}

    async def resource(self, request: web.Request, *, lookups: bool = True) -> Resource:
        """The project (and run) ``request`` touches, as far as the sources tell; without
        ``lookups``, only from the path, query and headers (no body read, no backend call)."""
        values = []
        for reader in self._readers:
            usable = reader is not None and (lookups or not isinstance(reader, _Lookup))
            values.append(_text(await reader(request)) if usable else None)
        return Resource(*values)
