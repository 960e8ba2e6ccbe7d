"""The auth middleware on a small app: 401 vs 403, public routes, deny by default, audit records."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lakecache.core.errors import NotFound, Unavailable
from lakecache.core.runtime.http import create_app
from lakecache.core.runtime.problems import problem_middleware
from lakecache.core.telemetry import configure_telemetry
from lakecache.gateway.auth import (
    PUBLIC,
    Actor,
    AuthSettings,
    Permission,
    Resource,
    Role,
    RoutePolicy,
    actor_of,
    auth_middleware,
    principal_of,
    require,
    requires,
)
from lakecache.gateway.auth.tokens import issue_job_token, issue_user_token, list_tokens, revoke_token
from tests.gateway.conftest import audit_records, make_user

# What the gateway will learn from the catalog and the tracker: the project of a commit, of a run.
COMMITS = {"c-vision": "vision", "c-speech": "speech"}
RUNS = {"run-1": "vision", "run-2": "vision", "run-s": "speech"}


async def project_of_commit(request: web.Request) -> str | None:
    return COMMITS.get(request.match_info["commit_id"])


async def project_of_run(request: web.Request) -> str | None:
    return RUNS.get(request.match_info["run_id"])


async def project_of_dataset_id(request: web.Request) -> str | None:
    dataset_id = request.match_info["dataset_id"]
    if dataset_id == "down":
        raise Unavailable("the catalog at http://catalog:8081 does not answer")
    if dataset_id != "ds-vision":
        raise NotFound(f"no dataset with id {dataset_id!r}")
    return "vision"


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"by": principal_of(request).subject}, status=201 if request.method == "POST" else 200)


async def missing(request: web.Request) -> web.Response:
    raise NotFound("no dataset 'vision/gone'; list the project's datasets")


async def create_token(request: web.Request) -> web.Response:
    auth = request.app[AUTH_KEY]
    issued = await issue_user_token(auth, principal_of(request).user_id, actor_of(request), name="from-api")
    return web.json_response({"token": issued.token, **issued.info}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    auth, caller, token_id = request.app[AUTH_KEY], principal_of(request), request.match_info["token_id"]
    owned = await auth.tokens.exists(token_id, owner=caller.user_id)
    if not owned:
        require(request, "users:write", Resource())  # revoking someone else's token: administrators only
    await revoke_token(auth, token_id, actor_of(request))
    return web.Response(status=204)


AUTH_KEY = web.AppKey("auth", object)
DATASET = "/api/v1/datasets/{project}/{name}"
COPY = "/api/v1/sites/{site}/copies/{commit_id}"

ROUTES = [
    web.get(DATASET, requires(Permission("datasets:read", project_from="match_info:project"))(ok)),
    web.delete(DATASET, requires(Permission("datasets:delete", project_from="match_info:project"))(ok)),
    web.get("/api/v1/missing/{project}", requires(Permission("datasets:read", project_from="match_info:project"))(
        missing)),
    web.post("/api/v1/missing/{project}", requires(Permission("datasets:write", project_from="match_info:project"))(
        missing)),
    web.post("/api/v1/datasets", requires(Permission("datasets:write", project_from="body:project"))(ok)),
    web.get(COPY, requires(Permission("caches:read", project_from=project_of_commit))(ok)),
    web.post(COPY + "/leases", requires(Permission("leases:write", project_from=project_of_commit))(ok)),
    web.post("/api/v1/runs/{run_id}/metrics", requires(Permission(
        "runs:log", project_from=project_of_run, run_from="match_info:run_id"))(ok)),
    web.post("/api/v1/runs", requires(Permission("runs:write", project_from="body:project"))(ok)),
    web.get("/api/v1/dataset-ids/{dataset_id}", requires(Permission("datasets:read",
                                                                  project_from=project_of_dataset_id))(ok)),
    web.get("/api/v1/sites", requires(Permission("sites:read"))(ok)),
    web.post("/api/v1/tokens", requires(Permission("tokens:own"))(create_token)),
    web.delete("/api/v1/tokens/{token_id}", requires(Permission("tokens:own"))(delete_token)),
    web.get("/api/v1/forgotten", ok),
]


def make_app(auth, settings: AuthSettings) -> web.Application:
    app = create_app("gateway", configure_telemetry("gateway"), {}, ROUTES)
    app[AUTH_KEY] = auth
    app.middlewares.append(auth_middleware(auth, RoutePolicy.for_gateway(settings)))
    app.middlewares.append(problem_middleware("gateway"))
    return app


@pytest.fixture
async def client(auth, settings):
    async with TestClient(TestServer(make_app(auth, settings))) as client:
        yield client


@pytest.fixture
async def people(auth):
    return {
        "viewer": await make_user(auth, "vera", {"vision": Role.VIEWER}),
        "editor": await make_user(auth, "ed", {"vision": Role.EDITOR, "speech": Role.VIEWER}),
        "admin": await make_user(auth, "adam", {"vision": Role.ADMIN}),
        "root": await make_user(auth, "root", admin=True),
    }


async def job_header(auth, clock, issuer, run="run-1", project="vision"):
    issued = await issue_job_token(auth, project=project, run_id=run, issuer_id=issuer.id,
                                   expires_at=clock() + timedelta(hours=1), actor=Actor.system())
    return {"Authorization": f"Bearer {issued.token}"}


async def status(client, method, path, headers=None, **kwargs) -> int:
    async with client.request(method, path, headers=headers, **kwargs) as response:
        return response.status


def test_every_route_has_a_requirement_and_forgotten_ones_are_reported(auth, settings):
    app = make_app(auth, settings)
    policy = RoutePolicy.for_gateway(settings)
    table = {(rule.method, rule.path): rule.requirement for rule in policy.table(app)}
    assert table[("GET", "/healthz")] is PUBLIC and table[("GET", "/readyz")] is PUBLIC
    assert table[("GET", "/metrics")] == Permission("metrics:read")
    assert table[("POST", COPY + "/leases")].action == "leases:write"
    assert table[("HEAD", DATASET)].action == "datasets:read"  # aiohttp's automatic HEAD inherits it
    assert set(policy.problems(app)) == {
        "GET /api/v1/forgotten declares no permission and is not public: it denies everyone",
        "HEAD /api/v1/forgotten declares no permission and is not public: it denies everyone",
    }
    typo = web.Application()
    typo.router.add_get("/api/v1/datasets/{proj}", requires(Permission("datasets:read",
                                                                          project_from="match_info:project"))(ok))
    assert set(policy.problems(typo)) == {"GET /api/v1/datasets/{proj} reads path variables it lacks: project",
                                          "HEAD /api/v1/datasets/{proj} reads path variables it lacks: project"}


async def test_probes_answer_without_a_token_and_metrics_only_when_configured(client, people, auth):
    assert await status(client, "GET", "/healthz") == 200
    assert await status(client, "GET", "/readyz") == 200
    assert await status(client, "GET", "/metrics") == 401
    assert await status(client, "GET", "/metrics", people["admin"].header) == 403
    assert await status(client, "GET", "/metrics", people["root"].header) == 200
    async with TestClient(TestServer(make_app(auth, AuthSettings(public_metrics=True)))) as open_metrics:
        assert await status(open_metrics, "GET", "/metrics") == 200


async def test_no_token_is_401_with_a_bearer_challenge_and_a_problem(client):
    async with client.get("/api/v1/datasets/vision/images") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="lakecache"'
        assert response.content_type == "application/problem+json"
        body = await response.json()
    assert body["type"] == "urn:lakecache:problem:unauthenticated" and "Authorization: Bearer" in body["detail"]


async def test_bad_expired_and_revoked_tokens_are_401_invalid_token(client, auth, clock, people):
    ada = people["viewer"]
    token_id = (await list_tokens(auth, user_id=ada.id))[0]["id"]
    short = await issue_user_token(auth, ada.id, Actor.system(), ttl=timedelta(minutes=5))
    cases = [({"Authorization": "Bearer lct_not-a-real-token"}, "unknown")]
    clock.advance(minutes=5)
    cases.append(({"Authorization": f"Bearer {short.token}"}, "expired"))
    await revoke_token(auth, token_id, Actor.system())
    cases.append((ada.header, "revoked"))
    for header, word in cases:
        async with client.get("/api/v1/datasets/vision/images", headers=header) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="lakecache", error="invalid_token"'
            assert word in (await response.json())["detail"]


async def test_a_valid_token_without_the_role_is_403_with_the_reason(client, people):
    async with client.post("/api/v1/datasets", json={"project": "vision"}, headers=people["viewer"].header) as r:
        assert r.status == 403 and r.content_type == "application/problem+json"
        body = await r.json()
    assert body["type"] == "urn:lakecache:problem:forbidden"
    assert body["detail"] == "user:vera is viewer of project 'vision'; datasets:write needs editor or higher"
    assert await status(client, "POST", "/api/v1/datasets", people["editor"].header, json={"project": "vision"}) == 201
    assert await status(client, "DELETE", "/api/v1/datasets/vision/x", people["editor"].header) == 403
    assert await status(client, "DELETE", "/api/v1/datasets/vision/x", people["admin"].header) == 200


async def test_a_route_without_a_declared_permission_is_denied_even_to_administrators(client, people):
    assert await status(client, "GET", "/api/v1/forgotten") == 401
    async with client.get("/api/v1/forgotten", headers=people["root"].header) as response:
        assert response.status == 403
        assert "declares no permission" in (await response.json())["detail"]


async def test_unknown_routes_need_a_token_before_they_say_404(client, people):
    assert await status(client, "GET", "/api/v1/nothing-here") == 401
    assert await status(client, "GET", "/api/v1/nothing-here", people["viewer"].header) == 404
    assert await status(client, "PUT", "/api/v1/sites", people["viewer"].header) == 405


async def test_users_never_reach_other_projects(client, people):
    ed = people["editor"].header  # editor of vision, viewer of speech, nothing in "audio"
    assert await status(client, "GET", "/api/v1/datasets/audio/x", ed) == 403
    assert await status(client, "POST", "/api/v1/datasets", ed, json={"project": "speech"}) == 403
    assert await status(client, "POST", "/api/v1/datasets", ed, json={"project": ["vision"]}) == 403
    assert await status(client, "POST", "/api/v1/datasets", ed, data=b"not json") == 403
    assert await status(client, "POST", COPY.format(site="dgx", commit_id="c-speech") + "/leases", ed) == 403
    assert await status(client, "POST", COPY.format(site="dgx", commit_id="c-vision") + "/leases", ed) == 201
    assert await status(client, "POST", "/api/v1/runs/run-s/metrics", ed) == 403
    assert await status(client, "GET", "/api/v1/datasets/speech/x", ed) == 200


async def test_a_job_token_reads_inputs_leases_and_logs_to_its_run_only(client, auth, clock, people):
    job = await job_header(auth, clock, people["editor"], run="run-1")
    copy_vision, copy_speech = (COPY.format(site="dgx", commit_id=c) for c in ("c-vision", "c-speech"))
    allowed = [("GET", "/api/v1/datasets/vision/images"), ("GET", copy_vision), ("POST", copy_vision + "/leases"),
               ("POST", "/api/v1/runs/run-1/metrics")]
    denied = [("GET", "/api/v1/datasets/speech/audio"), ("GET", copy_speech), ("POST", copy_speech + "/leases"),
              ("POST", "/api/v1/runs/run-2/metrics"), ("POST", "/api/v1/runs/run-s/metrics"),
              ("DELETE", "/api/v1/datasets/vision/images"), ("GET", "/api/v1/sites"), ("POST", "/api/v1/tokens"),
              ("GET", "/metrics")]
    for method, path in allowed:
        assert await status(client, method, path, job) in (200, 201), (method, path)
    for method, path in denied:
        assert await status(client, method, path, job) == 403, (method, path)
    for body in ({"project": "vision"}, {"project": "speech"}):
        assert await status(client, "POST", "/api/v1/datasets", job, json=body) == 403
        assert await status(client, "POST", "/api/v1/runs", job, json=body) == 403


async def test_each_denial_writes_one_record_with_who_what_where_and_why(client, auth, people):
    headers = {**people["viewer"].header, "X-Request-Id": "req-42"}
    assert await status(client, "DELETE", "/api/v1/datasets/vision/images", headers) == 403
    assert await status(client, "GET", "/api/v1/datasets/vision/images", {"X-Request-Id": "req-43"}) == 401
    first, second = sorted(await audit_records(auth, outcome="denied"), key=lambda r: r["request_id"])
    assert {k: first[k] for k in ("actor", "actor_kind", "user_id", "route", "action", "project", "status",
                                  "request_id")} == {
        "actor": "user:vera", "actor_kind": "user", "user_id": people["viewer"].id,
        "route": "DELETE /api/v1/datasets/{project}/{name}", "action": "datasets:delete", "project": "vision",
        "status": 403, "request_id": "req-42"}
    assert "needs admin" in first["reason"] and first["token_id"] and first["at"]
    assert (second["actor"], second["status"], second["project"]) == ("anonymous", 401, "vision")


async def test_a_revoked_tokens_denial_names_its_owner(client, auth, people):
    ada = people["viewer"]
    token_id = (await list_tokens(auth, user_id=ada.id))[0]["id"]
    await revoke_token(auth, token_id, Actor.system())
    assert await status(client, "GET", "/api/v1/sites", ada.header) == 401
    [record] = await audit_records(auth, outcome="denied")
    assert (record["actor"], record["token_id"], record["status"]) == ("user:vera", token_id, 401)


async def test_each_mutating_request_writes_exactly_one_record(client, auth, clock, people):
    ed = people["editor"].header
    before = len(await audit_records(auth))
    assert await status(client, "GET", "/api/v1/datasets/vision/images", ed) == 200
    assert await status(client, "GET", "/api/v1/missing/vision", ed) == 404
    assert len(await audit_records(auth)) == before  # reads leave no trace

    assert await status(client, "POST", "/api/v1/datasets", ed, json={"project": "vision"}) == 201
    clock.advance(seconds=1)
    assert await status(client, "POST", "/api/v1/runs", ed, json={"project": "vision"}) == 201
    clock.advance(seconds=1)
    assert await status(client, "POST", "/api/v1/missing/vision", ed) == 404
    records = await audit_records(auth, actor="user:ed")
    assert [(r["action"], r["outcome"], r["status"], r["project"]) for r in reversed(records)] == [
        ("datasets:write", "succeeded", 201, "vision"), ("runs:write", "succeeded", 201, "vision"),
        ("datasets:write", "failed", 404, "vision")]


async def test_a_handler_that_records_its_change_is_not_recorded_twice(client, auth, people, caplog):
    caplog.set_level(logging.DEBUG)
    async with client.post("/api/v1/tokens", headers=people["viewer"].header) as response:
        assert response.status == 201
        token = (await response.json())["token"]
    [record] = await audit_records(auth, actor="user:vera")
    assert (record["action"], record["route"], record["request_id"]) == (
        "token.created", "POST /api/v1/tokens", response.headers["X-Request-Id"])
    assert token not in caplog.text


async def test_handlers_check_objects_the_route_cannot_see(client, auth, clock, people):
    vera, ed = people["viewer"], people["editor"]
    eds_token = (await list_tokens(auth, user_id=ed.id))[0]["id"]
    assert await status(client, "DELETE", f"/api/v1/tokens/{eds_token}", vera.header) == 403
    [denial] = await audit_records(auth, outcome="denied")
    assert (denial["actor"], denial["action"]) == ("user:vera", "users:write")
    spare = await issue_user_token(auth, vera.id, Actor.system())
    assert await status(client, "DELETE", f"/api/v1/tokens/{spare.id}", vera.header) == 204
    clock.advance(seconds=1)
    assert await status(client, "DELETE", f"/api/v1/tokens/{eds_token}", people["root"].header) == 204
    revoked = await audit_records(auth, outcome="succeeded")
    assert [r["actor"] for r in revoked if r["action"] == "token.revoked"] == ["user:root", "user:vera"]


async def test_a_project_lookup_that_fails_denies_or_says_the_backend_is_down(client, auth, people):
    vera = people["viewer"].header
    assert await status(client, "GET", "/api/v1/dataset-ids/ds-vision", vera) == 200
    async with client.get("/api/v1/dataset-ids/ds-gone", headers=vera) as response:
        assert response.status == 403
        assert "cannot tell which project" in (await response.json())["detail"]
    async with client.get("/api/v1/dataset-ids/down", headers=vera) as response:
        assert response.status == 503 and "does not answer" in (await response.json())["detail"]
    # Without a token the lookup never runs: nothing to learn about dataset ids, nothing to load.
    assert await status(client, "GET", "/api/v1/dataset-ids/down") == 401
