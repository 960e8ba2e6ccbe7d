"""Calling an internal service from a test as the gateway would: every request signed.

    async with internal_session(home, "catalog", catalog_routes, project="vision") as session:
        await session.get(base_url + "/api/v1/datasets/vision/cats")

The session signs each request with a ``gateway`` key generated in ``<home>/keys`` (where the
services started with that home look for trusted keys), for the action the service's own route
table declares and the project the request names (its path or query, else the session's
``project``, or its ``X-Test-Project`` header). ``X-LakeCache-User`` on a request becomes the
assertion's subject — the way tests say who acts — and is not sent. Tests about the check
itself build assertions by hand (:func:`assertion_headers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, hdrs, web
from aiohttp.test_utils import make_mocked_request

from lakecache.core.identity import KeyRing, mint_assertion
from lakecache.core.identity.grants import SourceGrant, mint_grant
from lakecache.core.runtime.access import CHECKED, PATH, QUERY, access_of

TEST_SUBJECT = "user:tester"
SUBJECT_HEADER = "X-LakeCache-User"
#: For routes whose project only the handler knows (a body field): the project to sign for.
PROJECT_HEADER = "X-Test-Project"


def gateway_keys(home: Path) -> KeyRing:
    """The ``gateway`` signing key in ``<home>/keys`` (generated once, like the gateway does)."""
    return KeyRing.open(Path(home).resolve() / "keys", "gateway", generate=True)


def assertion_headers(keys: KeyRing, service: str, method: str, target: str, *, action: str,
                      project: str | None, subject: str = TEST_SUBJECT, ttl_seconds: float = 60,
                      now: float | None = None) -> dict[str, str]:
    token = mint_assertion(keys.signing_key, audience=service, subject=subject, action=action, project=project,
                           method=method, target=target, ttl_seconds=ttl_seconds, now=now)
    return {hdrs.AUTHORIZATION: f"Bearer {token}"}


class RouteTable:
    """Finds the declared access of a request to one service, from its route table."""

    def __init__(self, routes: Sequence[web.RouteDef]) -> None:
        self._app = web.Application()
        self._app.add_routes(routes)

    async def resolve(self, method: str, target: str) -> tuple[str, str | None] | None:
        """(action, project) of ``method target``; None for a route the service does not declare."""
        request = make_mocked_request(method, target, app=self._app)
        match = await self._app.router.resolve(request)
        access = access_of(match.handler) if match.http_exception is None else None
        if access is None:
            return None
        if access.project == PATH:
            return access.action, match.get(access.name)
        if access.project == QUERY:
            return access.action, request.query.get(access.name)
        return access.action, CHECKED if access.project == CHECKED else None


def signing_middleware(keys: KeyRing, service: str, routes: Sequence[web.RouteDef], *, project: str | None = None):
    table = RouteTable(routes)

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        target = request.url.raw_path_qs
        subject = request.headers.pop(SUBJECT_HEADER, None) or TEST_SUBJECT
        checked_project = request.headers.pop(PROJECT_HEADER, None) or project
        found = await table.resolve(request.method, target)
        if found is not None:
            action, named = found
            request.headers.update(assertion_headers(keys, service, request.method, target, action=action,
                                                     project=checked_project if named == CHECKED else named,
                                                     subject=subject))
        return await handler(request)

    return middleware


def internal_session(home: Path, service: str, routes: Sequence[web.RouteDef], *, project: str | None = None,
                     **options) -> aiohttp.ClientSession:
    """An aiohttp session whose requests to ``service`` are signed as the gateway signs them."""
    middleware = signing_middleware(gateway_keys(home), service, routes, project=project)
    return aiohttp.ClientSession(middlewares=(middleware,), **options)


def catalog_keys(home: Path) -> KeyRing:
    """The ``catalog`` signing key in ``<home>/keys`` (generated once, as the catalog does)."""
    return KeyRing.open(Path(home).resolve() / "keys", "catalog", generate=True)


def source_grant(home: Path, *, project: str, dataset: str, dataset_id: str, commit_id: str, location: str,
                 parents: Sequence[str] = (), imports: Sequence[str] = (), ttl_seconds: float = 3600) -> str:
    """A source grant signed with the ``catalog`` key of ``home``, as the catalog would grant it."""
    grant = SourceGrant(project=project, dataset=dataset, dataset_id=dataset_id, commit_id=commit_id,
                        parents=list(parents), location=location, imports=list(imports))
    return mint_grant(catalog_keys(home).signing_key, grant, ttl_seconds=ttl_seconds)
