"""The gateway's permissions and the services' declared actions are one vocabulary and cannot drift.

The gateway authorizes a forwarded request for an action and a project and signs that into the
assertion; the service behind it accepts the assertion only for the action its own route table
declares for the same method and path, in the project the route names. A permission changed on
one side only would make that route refuse everyone (or, worse, check the wrong thing), so both
tables are compared here, route by route.
"""

from __future__ import annotations

from aiohttp import web

from lakecache.cacher.api import ROUTES as CACHER_ROUTES
from lakecache.catalog.api import ROUTES as CATALOG_ROUTES
from lakecache.core.identity.actions import ACTION_NAMES, INSTALLATION_ACTIONS, PROJECT_ACTIONS
from lakecache.core.runtime.access import CHECKED, PATH, QUERY, Access, access_of
from lakecache.evictor.api import ROUTES as EVICTOR_ROUTES
from lakecache.gateway.api import api_registry
from lakecache.gateway.auth import ACTIONS, Permission, Scope
from lakecache.gateway.upstream.proxy import forwarded_to
from lakecache.tracker.api import ROUTES as TRACKER_ROUTES

BACKENDS = {"catalog": CATALOG_ROUTES, "cacher": CACHER_ROUTES, "evictor": EVICTOR_ROUTES,
            "tracker": TRACKER_ROUTES}


def declared(routes: list[web.RouteDef]) -> dict[tuple[str, str], Access | None]:
    """(method, path template) → the route's declared access, as the service's router sees it."""
    app = web.Application()
    app.add_routes(routes)
    return {(r.method, r.resource.canonical): access_of(r.handler) for r in app.router.routes() if r.resource}


def test_the_gateways_actions_are_exactly_the_services_action_names():
    assert set(ACTIONS) == ACTION_NAMES
    for name, spec in ACTIONS.items():
        assert (name in PROJECT_ACTIONS) == (spec.scope is Scope.PROJECT), name
        assert (name in INSTALLATION_ACTIONS) == (spec.scope is not Scope.PROJECT), name


def _where(permission: Permission) -> str | None:
    """Where the gateway finds the project, in the services' terms (PATH, QUERY, CHECKED, None)."""
    source = permission.project_from
    if source is None:
        return None
    if source == "match_info:project":
        return PATH
    if source == "query:project":
        return QUERY
    return CHECKED  # a body field or a lookup: the service must check it itself


def test_every_forwarded_operation_is_authorized_for_the_action_its_service_declares():
    tables = {name: declared(routes) for name, routes in BACKENDS.items()}
    forwarded = [o for o in api_registry() if o.forwarded]
    assert {forwarded_to(o.handler) for o in forwarded} == set(BACKENDS)
    problems = []
    for operation in forwarded:
        service = forwarded_to(operation.handler)
        assert service in tables, f"{operation} forwards to an unknown service {service!r}"
        access = tables[service].get((operation.method, operation.path))
        where = f"{operation} (to the {service})"
        if access is None:
            problems.append(f"{where}: the {service} declares no such route")
            continue
        assert isinstance(operation.permission, Permission), f"{where} forwards without a permission"
        if operation.permission.action != access.action:
            problems.append(f"{where}: the gateway authorizes {operation.permission.action}, the {service} "
                            f"accepts {access.action}")
        expected = _where(operation.permission)
        if access.project != expected and not (access.project == CHECKED and expected in (PATH, QUERY)):
            problems.append(f"{where}: the gateway finds the project at {expected}, the {service} at "
                            f"{access.project}")
        elif access.project in (PATH, QUERY) and access.name != "project":
            problems.append(f"{where}: the {service} reads the project from {access.name!r}")
    assert problems == []
