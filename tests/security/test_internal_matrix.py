"""Every route of every internal service × every kind of credential an attacker could bring.

The catalog, the cacher, the evictor and the tracker run as `lakecache up` runs them. Routes
come from each service's router (a new route cannot be left out) and each route's declared
access (`lakecache.core.runtime.access`). Expectations:

| credential | expected |
|---|---|
| none | 401 |
| a forged ``X-LakeCache-User: admin`` header, nothing else | 401 |
| an assertion that expired | 401 |
| an assertion for another service (audience) | 401 |
| an assertion for another route of the same service | 401 |
| an assertion signed by a key the service does not trust | 401 |
| the same assertion sent twice on a non-safe method | 401 the second time |
| a valid assertion for another action | 403 |
| a valid assertion for another project (routes naming their project) | 403 |
| a valid assertion | anything but 401, 403 and 5xx |

``/metrics`` takes the metrics token instead, and the probes answer everyone.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import hdrs

from lakecache.core.identity import KeyRing
from lakecache.core.runtime.access import CHECKED, PATH, QUERY, Access, access_of
from tests.security.conftest import SITE, Installation
from tests.support.identity import assertion_headers, gateway_keys

PROJECT, OTHER = "vision", "speech"
_VARIABLE = re.compile(r"\{([^}:]+)\}")
VALUES = {"project": PROJECT, "site": SITE, "name": "cats", "commit_id": "c" * 64, "ref": "latest", "tag": "v1",
          "lease_id": "lease-1", "dataset_id": "ds-1", "sha256": "a" * 64}
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Target:
    service: str
    base_url: str
    method: str
    template: str
    access: Access

    @property
    def target(self) -> str:
        path = _VARIABLE.sub(lambda m: VALUES.get(m.group(1), "x"), self.template)
        return path + (f"?{self.access.name}={PROJECT}" if self.access.project == QUERY else "")

    @property
    def project(self) -> str | None:
        return None if self.access.project is None else PROJECT

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.template}"


def targets(stack: Installation) -> list[Target]:
    found = []
    for name, running in stack.internal.items():
        for route in running.app.router.routes():
            path = route.resource.canonical if route.resource else "?"
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            access = access_of(route.handler)
            assert access is not None, f"{name} {route.method} {path} is undeclared"
            found.append(Target(name, running.base_url, route.method, path, access))
    return found


async def send(session: aiohttp.ClientSession, t: Target, headers: dict[str, str], target: str | None = None) -> int:
    body = {} if t.method in ("POST", "PUT", "PATCH") else None
    url = t.base_url + (target or t.target)
    async with session.request(t.method, url, json=body, headers=headers) as answer:
        await answer.read()
        return answer.status


def signed(keys: KeyRing, t: Target, **overrides) -> dict[str, str]:
    claims = {"action": t.access.action, "project": t.project, "subject": "user:mallory"} | overrides
    service = claims.pop("service", t.service)
    target = claims.pop("target", t.target)
    return assertion_headers(keys, service, t.method, target, **claims)


def other_action(access: Access) -> str:
    # Same scope (installation-wide or per project), another name: only the action is wrong.
    if access.project is None:
        return "sites:read" if access.action != "sites:read" else "sites:write"
    return "datasets:read" if access.action != "datasets:read" else "caches:read"


async def test_every_internal_route_answers_only_a_valid_assertion_for_its_action_and_project(stack, tmp_path):
    keys = gateway_keys(stack.home)
    stranger = KeyRing.open(tmp_path / "stranger-keys", "gateway", generate=True)  # same name, untrusted key
    routes = targets(stack)
    assert {t.service for t in routes} >= {"catalog", "cacher", "evictor", "tracker"}
    outcomes: list[str] = []

    def check(t: Target, case: str, status: int, expected) -> None:
        ok = expected(status) if callable(expected) else status == expected
        if not ok:
            outcomes.append(f"{t} [{case}] answered {status}")

    async with aiohttp.ClientSession() as session:
        for t in routes:
            check(t, "no credential", await send(session, t, {}), 401)
            check(t, "forged user header", await send(session, t, {"X-LakeCache-User": "admin"}), 401)
            expired = assertion_headers(keys, t.service, t.method, t.target, action=t.access.action,
                                        project=t.project, now=time.time() - 3600)
            check(t, "expired", await send(session, t, expired), 401)
            wrong_audience = "catalog" if t.service != "catalog" else "cacher"
            check(t, "other audience", await send(session, t, signed(keys, t, service=wrong_audience)), 401)
            check(t, "other route", await send(session, t, signed(keys, t, target="/api/v1/elsewhere")), 401)
            check(t, "untrusted key", await send(session, t, signed(stranger, t)), 401)
            check(t, "other action", await send(session, t, signed(keys, t, action=other_action(t.access))), 403)
            if t.access.project in (PATH, QUERY):
                check(t, "other project", await send(session, t, signed(keys, t, project=OTHER)), 403)
            valid = signed(keys, t)
            check(t, "valid", await send(session, t, valid), lambda s: s not in (401, 403) and s < 500)
            if t.method not in _SAFE:
                check(t, "replayed", await send(session, t, valid), 401)
    assert outcomes == [], "\n".join(outcomes)


async def test_a_route_whose_handler_learns_the_project_refuses_an_assertion_for_another_one(stack):
    catalog = stack.services["catalog"]
    keys = gateway_keys(stack.home)
    headers = assertion_headers(keys, "catalog", "POST", "/api/v1/datasets", action="datasets:write", project=OTHER)
    async with aiohttp.ClientSession() as session:
        async with session.post(catalog.base_url + "/api/v1/datasets", headers=headers,
                                json={"project": PROJECT, "name": "cats"}) as answer:
            problem = await answer.json()
    assert answer.status == 403 and problem["type"].endswith(":forbidden")
    assert "'speech'" in problem["detail"] and "'vision'" in problem["detail"]


async def test_checked_routes_exist_and_are_declared_so(stack):
    # The catalog's create-dataset and lineage reads learn their project in the handler.
    assert any(t.access.project == CHECKED for t in targets(stack))


async def test_internal_metrics_need_the_metrics_token_and_probes_answer_everyone(stack):
    token = (stack.home / "keys" / "metrics-token").read_text().strip()
    async with aiohttp.ClientSession() as session:
        for name, running in stack.internal.items():
            for path in ("/healthz", "/readyz"):
                async with session.get(running.base_url + path) as answer:
                    assert answer.status == 200, f"{name} {path}"
            for headers, expected in (({}, 401), ({hdrs.AUTHORIZATION: "Bearer lcm_wrong"}, 401),
                                      ({"X-LakeCache-User": "admin"}, 401),
                                      ({hdrs.AUTHORIZATION: f"Bearer {token}"}, 200)):
                async with session.get(running.base_url + "/metrics", headers=headers) as answer:
                    assert answer.status == expected, f"{name} /metrics with {headers}"


@pytest.mark.parametrize("service", ["catalog", "cacher", "evictor", "tracker"])
async def test_a_gateway_token_is_not_an_assertion(stack, service):
    """A person's API token proves nothing to an internal service: only the gateway's signature does."""
    admin_token = (stack.home / "admin-token").read_text().strip()
    running = stack.services[service]
    path = {"catalog": f"/api/v1/datasets?project={PROJECT}", "cacher": f"/api/v1/sites/{SITE}/volumes",
            "evictor": f"/api/v1/sites/{SITE}/eviction",
            "tracker": f"/api/v1/projects/{PROJECT}/experiments"}[service]
    async with aiohttp.ClientSession() as session:
        async with session.get(running.base_url + path, headers={hdrs.AUTHORIZATION: f"Bearer {admin_token}"}) as r:
            assert r.status == 401
