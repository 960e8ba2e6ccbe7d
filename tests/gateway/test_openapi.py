"""The OpenAPI document and the docs page follow the registry the app routes with; bad declarations fail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel

from lakecache.core.errors import InvalidArgument
from lakecache.core.runtime.http import create_app
from lakecache.core.telemetry import configure_telemetry
from lakecache.gateway.api import api_registry
from lakecache.gateway.app import route_policy
from lakecache.gateway.auth import ACTIONS, PUBLIC, Permission, auth_middleware
from lakecache.gateway.http.openapi import openapi_document
from lakecache.gateway.http.operation import Operation
from lakecache.gateway.http.problems import gateway_problem_middleware
from lakecache.gateway.http.registry import Registry
from lakecache.gateway.repositories.pages import Keyset
from tests.gateway.conftest import gateway_app, make_user

# What each of the gateway's own routes requires: a second statement of intent, so that a
# changed permission is a visible decision rather than a slip in a declaration.
EXPECTED_ACTIONS = {
    ("GET", "/api/v1/me"): "self:read",
    ("POST", "/api/v1/tokens"): "tokens:own",
    ("GET", "/api/v1/tokens"): "tokens:own",
    ("DELETE", "/api/v1/tokens/{token_id}"): "tokens:own",
    ("GET", "/api/v1/users/{name}/tokens"): "users:read",
    ("POST", "/api/v1/users/{name}/tokens"): "users:write",
    ("POST", "/api/v1/projects/{project}/runs/{run_id}/job-tokens"): "jobs:issue",
    ("POST", "/api/v1/users"): "users:write",
    ("GET", "/api/v1/users"): "users:read",
    ("GET", "/api/v1/users/{name}"): "users:read",
    ("POST", "/api/v1/users/{name}/disable"): "users:write",
    ("POST", "/api/v1/users/{name}/enable"): "users:write",
    ("GET", "/api/v1/projects/{project}/members"): "members:read",
    ("PUT", "/api/v1/projects/{project}/members/{name}"): "members:write",
    ("DELETE", "/api/v1/projects/{project}/members/{name}"): "members:write",
    ("GET", "/api/v1/audit"): "audit:read",
    ("GET", "/api/v1/openapi.json"): "public",
    ("GET", "/api/v1/docs"): "public",
    ("POST", "/api/v1/datasets"): "datasets:write",
    ("GET", "/api/v1/datasets"): "datasets:read",
    ("GET", "/api/v1/datasets/{project}/{name}"): "datasets:read",
    ("PATCH", "/api/v1/datasets/{project}/{name}"): "datasets:write",
    ("DELETE", "/api/v1/datasets/{project}/{name}"): "datasets:delete",
    ("POST", "/api/v1/datasets/{project}/{name}/commits"): "datasets:write",
    ("GET", "/api/v1/datasets/{project}/{name}/commits"): "datasets:read",
    ("GET", "/api/v1/datasets/{project}/{name}/refs/{ref}"): "datasets:read",
    ("GET", "/api/v1/datasets/{project}/{name}/refs/{ref}/entries"): "datasets:read",
    ("GET", "/api/v1/datasets/{project}/{name}/diff"): "datasets:read",
    ("GET", "/api/v1/datasets/{project}/{name}/tags"): "datasets:read",
    ("PUT", "/api/v1/datasets/{project}/{name}/tags/{tag}"): "datasets:write",
    ("POST", "/api/v1/datasets/{project}/{name}/uploads"): "datasets:write",
    ("PUT", "/api/v1/datasets/{project}/{name}/contents/{sha256}"): "datasets:write",
    ("POST", "/api/v1/datasets/{project}/{name}/imports"): "datasets:write",
    ("GET", "/api/v1/projects/{project}/import-locations"): "datasets:read",
    ("PUT", "/api/v1/projects/{project}/import-locations/{name}"): "imports:admin",
    ("DELETE", "/api/v1/projects/{project}/import-locations/{name}"): "imports:admin",
    ("POST", "/api/v1/caches"): "caches:request",
    ("POST", "/api/v1/projects/{project}/experiments"): "runs:write",
    ("GET", "/api/v1/projects/{project}/experiments"): "runs:read",
    ("GET", "/api/v1/projects/{project}/experiments/{experiment_id}"): "runs:read",
    ("POST", "/api/v1/projects/{project}/runs"): "runs:write",
    ("POST", "/api/v1/projects/{project}/runs/search"): "runs:read",
    ("POST", "/api/v1/projects/{project}/runs/compare"): "runs:read",
    ("GET", "/api/v1/projects/{project}/runs/{run_id}"): "runs:read",
    ("POST", "/api/v1/projects/{project}/runs/{run_id}/log"): "runs:log",
    ("POST", "/api/v1/projects/{project}/runs/{run_id}/inputs"): "runs:log",
    ("POST", "/api/v1/projects/{project}/runs/{run_id}/outputs"): "runs:log",
    ("POST", "/api/v1/projects/{project}/runs/{run_id}/finish"): "runs:log",
    ("GET", "/api/v1/projects/{project}/runs/{run_id}/metric-history"): "runs:read",
    ("GET", "/api/v1/projects/{project}/lineage"): "runs:read",
    ("GET", "/api/v1/projects/{project}/runs/{run_id}/artifacts"): "runs:read",
    ("PUT", "/api/v1/projects/{project}/runs/{run_id}/artifacts/{path}"): "runs:log",
    ("GET", "/api/v1/projects/{project}/runs/{run_id}/artifacts/{path}"): "runs:read",
    ("GET", "/api/2.0/mlflow/experiments/get-by-name"): "runs:read",
    ("POST", "/api/2.0/mlflow/experiments/create"): "runs:write",
    ("GET", "/api/2.0/mlflow/experiments/get"): "runs:read",
    ("POST", "/api/2.0/mlflow/experiments/search"): "self:read",
    ("POST", "/api/2.0/mlflow/runs/create"): "runs:write",
    ("POST", "/api/2.0/mlflow/runs/update"): "runs:log",
    ("GET", "/api/2.0/mlflow/runs/get"): "runs:read",
    ("POST", "/api/2.0/mlflow/runs/search"): "runs:read",
    ("GET", "/api/2.0/mlflow/metrics/get-history"): "runs:read",
    ("POST", "/api/2.0/mlflow/logged-models/search"): "runs:read",
    ("POST", "/api/2.0/mlflow/runs/log-metric"): "runs:log",
    ("POST", "/api/2.0/mlflow/runs/log-parameter"): "runs:log",
    ("POST", "/api/2.0/mlflow/runs/set-tag"): "runs:log",
    ("POST", "/api/2.0/mlflow/runs/delete-tag"): "runs:log",
    ("POST", "/api/2.0/mlflow/runs/log-batch"): "runs:log",
    ("POST", "/api/2.0/mlflow/runs/log-inputs"): "runs:log",
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{path}"): "runs:log",
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{path}"): "runs:read",
    ("GET", "/api/2.0/mlflow-artifacts/artifacts"): "runs:read",
    ("GET", "/api/v1/projects/{project}/copies"): "caches:read",
    ("GET", "/api/v1/sites"): "sites:read",
    ("GET", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"): "caches:read",
    ("GET", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/events"): "caches:read",
    ("DELETE", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"): "caches:evict",
    ("POST", "/api/v1/sites/{site}/volumes"): "sites:write",
    ("GET", "/api/v1/sites/{site}/volumes"): "sites:read",
    ("GET", "/api/v1/sites/{site}/volumes/{name}"): "sites:read",
    ("DELETE", "/api/v1/sites/{site}/volumes/{name}"): "sites:write",
    ("PUT", "/api/v1/sites/{site}/volumes/{name}/quotas/{project}"): "sites:write",
    ("DELETE", "/api/v1/sites/{site}/volumes/{name}/quotas/{project}"): "sites:write",
    ("GET", "/api/v1/projects/{project}/sites/{site}/quotas"): "caches:read",
    ("GET", "/api/v1/sites/{site}/eviction"): "sites:read",
    ("PUT", "/api/v1/sites/{site}/ttl"): "sites:write",
    ("GET", "/api/v1/sites/{site}/copies"): "caches:read",
    ("GET", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/eviction"): "caches:read",
    ("GET", "/api/v1/projects/{project}/sites/{site}/eviction"): "caches:read",
    ("POST", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/reads"): "caches:read",
    ("POST", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/leases"): "leases:write",
    ("PUT", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/leases/{lease_id}"): "leases:write",
    ("DELETE", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/leases/{lease_id}"): "leases:write",
    ("PUT", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/pin"): "caches:pin",
    ("DELETE", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}/pin"): "caches:pin",
}


async def test_the_served_document_describes_exactly_the_routed_api_with_permissions(api, auth, store):
    async with api.get("/api/v1/openapi.json") as response:  # no token: the reference is public
        assert response.status == 200
        document = await response.json()
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path): op for path, item in document["paths"].items() for method, op in item.items()}
    routed = {(r.method, r.path) for r in route_policy(auth, api_registry()).table(gateway_app(auth, store))
              if r.path.startswith("/api/")}
    assert set(documented) == routed == set(EXPECTED_ACTIONS)
    for key, op in documented.items():
        permission = op["x-lakecache-permission"]
        assert permission.get("action", "public" if permission.get("public") else None) == EXPECTED_ACTIONS[key]
        if permission.get("public"):
            assert op["security"] == [] and "401" not in op["responses"]
        else:
            assert "security" not in op and {"401", "403"} <= set(op["responses"])  # the global bearer scheme
            assert f"Requires `{EXPECTED_ACTIONS[key]}`" in op["description"]
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["responses"]["403"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    mlflow_missing = document["paths"]["/api/2.0/mlflow/runs/get"]["get"]["responses"]["404"]
    assert mlflow_missing["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/MlflowError"}}}


async def test_the_document_uses_the_handlers_models(api):
    async with api.get("/api/v1/openapi.json") as response:
        document = await response.json()
    create = document["paths"]["/api/v1/users"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewUser"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/User"}
    new_user = document["components"]["schemas"]["NewUser"]
    assert new_user["additionalProperties"] is False and new_user["required"] == ["name"]
    limit = next(p for p in document["paths"]["/api/v1/users"]["get"]["parameters"] if p["name"] == "limit")
    assert limit == {"name": "limit", "in": "query", "required": False, "description": "Most items in one page.",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
    me = document["components"]["schemas"]["Me"]
    assert me["discriminator"]["propertyName"] == "kind"


async def test_the_docs_page_lists_every_operation_without_scripts(api):
    async with api.get("/api/v1/docs") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
    for operation in api_registry():
        assert f'id="{operation.operation_id}"' in page
    assert "<script" not in page and 'href="/api/v1/openapi.json"' in page


class _Path(BaseModel):
    project: str


class _Out(BaseModel):
    ok: bool


async def _handler(request, **inputs):
    return _Out(ok=True)


def test_bad_declarations_fail_when_the_registry_is_built():
    read = Permission("datasets:read", project_from="match_info:project")
    with pytest.raises(ValueError, match="exactly the path variables"):
        Operation("GET", "/api/v1/x/{project}", _handler, "x", read, response=_Out)
    with pytest.raises(ValueError, match="reads path variables it lacks"):
        Operation("GET", "/api/v1/x", _handler, "x", read, response=_Out)
    with pytest.raises(ValueError, match="status 204 goes with no response model"):
        Operation("DELETE", "/api/v1/x", _handler, "x", PUBLIC, response=_Out, status=204)
    with pytest.raises(ValueError, match="take a body"):
        Operation("GET", "/api/v1/x", _handler, "x", PUBLIC, body=_Out, response=_Out)
    with pytest.raises(ValueError, match="give a summary"):
        Operation("GET", "/api/v1/x", _handler, "", PUBLIC, response=_Out)
    one = Operation("GET", "/api/v1/x/{project}", _handler, "x", read, params=_Path, response=_Out)
    with pytest.raises(ValueError, match="declared twice"):
        Registry([one, one])


async def test_a_handler_answering_another_model_than_declared_is_a_500_not_a_silent_drift(auth):
    class Other(BaseModel):
        ok: bool

    async def drifting(request):
        return Other(ok=True)

    registry = Registry([Operation("GET", "/api/v1/drift", drifting, "Drift", Permission("self:read"),
                                   response=_Out)])
    openapi_document(registry, title="t", version="1", description="d")  # documents fine; answering does not
    app = create_app("gateway", configure_telemetry("gateway"), {}, registry.routes())
    app.middlewares.append(auth_middleware(auth, route_policy(auth, registry)))
    app.middlewares.append(gateway_problem_middleware())
    root = await make_user(auth, "root", admin=True)
    async with TestClient(TestServer(app)) as client, client.get("/api/v1/drift", headers=root.header) as response:
        assert response.status == 500 and (await response.json())["type"] == "urn:lakecache:problem:internal"


def test_keyset_cursors_round_trip_and_select_what_sorts_after():
    keyset = Keyset("things", (("at", -1), ("_id", 1)))
    at = datetime(2030, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    cursor = keyset.encode({"at": at, "_id": "b", "other": 1})
    assert keyset.decode(cursor) == [at, "b"]
    assert keyset.after([at, "b"]) == {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$gt": "b"}}]}
    assert Keyset("names", (("name", 1),)).after(["x"]) == {"name": {"$gt": "x"}}
    with pytest.raises(InvalidArgument, match="not one this listing returned"):
        Keyset("others", keyset.sort).decode(cursor)


def test_operation_ids_come_from_handler_names_and_must_be_unique():
    async def show(request):
        return web.Response()

    a = Operation("GET", "/api/v1/a", show, "A", PUBLIC, raw_schema={"type": "string"})
    b = Operation("GET", "/api/v1/b", show, "B", PUBLIC, raw_schema={"type": "string"})
    with pytest.raises(ValueError, match="operation ids must be unique"):
        Registry([a, b])


def test_the_gateway_doc_lists_every_action_and_every_operation():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text()
    for action in ACTIONS:
        assert f"| `{action}` |" in doc, f"docs/gateway.md: add {action} to the actions table"
    for operation in api_registry():
        row = f"| `{operation.method} {operation.path.removeprefix('/api/v1')}` |"
        assert row in doc, f"docs/gateway.md: add {row} to the API table"
