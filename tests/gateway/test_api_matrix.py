"""The authorization matrix: every route the gateway's router has × every kind of caller.

The gateway runs in front of the real catalog, cacher and evictor (embedded adapters), with a
dataset, a ready cached copy, a lease and an import location of project ``vision`` in place, so
allowed calls reach the backends — signed by the gateway, checked again there — and must not
fail there (no 5xx, and never a 401/403 the gateway did not give) either.

Routes come from the aiohttp router itself (a new route cannot be left out), expectations from
each route's declared requirement and the ACTIONS table — restated here, not computed by
``authorize`` — and every request is checked for its audit records too: exactly one for each
denial and each mutation, none for an allowed read.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from lakecache.core.runtime.http import PUBLIC_PATHS
from lakecache.gateway.api import api_registry
from lakecache.gateway.app import route_policy
from lakecache.gateway.auth import ACTIONS, PUBLIC, Actor, Permission, Role, Scope
from lakecache.gateway.auth.tokens import issue_job_token, issue_user_token
from lakecache.gateway.web import PAGES, STATIC_PATH
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.gateway.conftest import gateway_app, make_user
from tests.gateway.stack import SITE, VOLUME, gateway_client
from tests.support.waiting import eventually

PROJECT, OTHER = "vision", "speech"
#: Bytes the content-upload route is given (with their sha256 in the path).
CONTENT = b"matrix content"
_VARIABLE = re.compile(r"\{([^}:]+)\}")


@dataclass(frozen=True)
class Caller:
    """One column of the matrix: how the test authenticates and what the ACTIONS table grants it."""

    name: str
    header: dict[str, str]
    kind: str  # anonymous, user, job
    roles: dict[str, Role]
    global_admin: bool = False


def expected_allowed(caller: Caller, action: str, project: str | None) -> bool:
    """What ACTIONS says about ``caller`` doing ``action`` in ``project`` (the run is the job's own)."""
    spec = ACTIONS[action]
    if caller.kind == "anonymous":
        return False
    if caller.kind == "job":
        return spec.job and (spec.scope is Scope.AUTHENTICATED or project == PROJECT)
    if caller.global_admin:
        return True
    if spec.scope is Scope.INSTALLATION:
        return False
    if spec.scope is Scope.AUTHENTICATED:
        return True
    role = caller.roles.get(project or "")
    return role is not None and role >= spec.role


# Checks a handler makes once it knows the object: revoking a token that is not the caller's
# needs users:write (the matrix revokes a token of another user).
OBJECT_ACTIONS = {("DELETE", "/api/v1/tokens/{token_id}"): "users:write"}


def sample_body(method: str, path: str, caller: Caller, world: dict[str, str]) -> dict | None:
    """A valid body for the routes that take one, so allowed calls really run their handler."""
    copy = "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"
    run = "/api/v1/projects/{project}/runs/{run_id}"
    bodies = {
        ("POST", "/api/v1/users"): {"name": f"new-{caller.name}"},
        ("PUT", "/api/v1/projects/{project}/members/{name}"): {"role": "viewer"},
        ("POST", "/api/v1/tokens"): {"name": "matrix"},
        ("POST", "/api/v1/users/{name}/tokens"): {"name": "matrix"},
        ("POST", "/api/v1/projects/{project}/runs/{run_id}/job-tokens"): {"expires_at": "2030-01-01T06:00:00Z"},
        ("POST", "/api/v1/datasets"): {"project": PROJECT, "name": f"made-by-{caller.name}"},
        ("PATCH", "/api/v1/datasets/{project}/{name}"): {"description": f"changed by {caller.name}"},
        ("PUT", "/api/v1/datasets/{project}/{name}/tags/{tag}"): {"ref": "latest"},
        ("POST", "/api/v1/caches"): {"project": PROJECT, "dataset": "cats", "site": SITE},
        ("POST", "/api/v1/sites/{site}/volumes"): {"name": f"v-{caller.name}", "path": world["spare_volume"]},
        ("PUT", "/api/v1/sites/{site}/ttl"): {"scope": "dataset", "target": world["dataset_id"],
                                              "ttl_seconds": 3600},
        ("PUT", "/api/v1/sites/{site}/volumes/{name}/quotas/{project}"): {"quota_bytes": 10**12},
        ("POST", copy + "/leases"): {"holder": f"matrix-{caller.name}"},
        ("POST", copy + "/reads"): {"volume": VOLUME, "bytes": 6, "cache_hit": True, "reader": f"matrix-{caller.name}"},
        ("POST", "/api/v1/datasets/{project}/{name}/uploads"): {"contents": [{"sha256": world["sha256"],
                                                                               "size": len(CONTENT)}]},
        ("POST", "/api/v1/datasets/{project}/{name}/imports"): {"source": world["import_source"],
                                                                "message": f"imported by {caller.name}"},
        ("PUT", "/api/v1/projects/{project}/import-locations/{name}"): {"url": world["import_location"]},
        ("POST", "/api/v1/projects/{project}/experiments"): {"name": f"made-by-{caller.name}"},
        ("POST", "/api/v1/projects/{project}/runs"): {"experiment_id": world["experiment_id"]},
        ("POST", "/api/v1/projects/{project}/runs/search"): {"experiment_ids": [world["experiment_id"]]},
        ("POST", "/api/v1/projects/{project}/runs/compare"): {"run_ids": [world["run_id"], world["run_id"]]},
        ("POST", run + "/log"): {"metrics": [{"key": "loss", "value": 0.5, "step": 1}], "params": {"by": caller.name}},
        ("POST", run + "/inputs"): {"dataset": "cats", "commit_id": world["commit_id"]},
        ("POST", run + "/outputs"): {"kind": "model", "uri": f"s3://models/{caller.name}"},
        ("POST", run + "/finish"): {"status": "finished"},
        **mlflow_bodies(caller, world),
    }
    return bodies.get((method, path), {} if method in ("POST", "PUT", "PATCH") else None)


def mlflow_bodies(caller: Caller, world: dict[str, str]) -> dict[tuple[str, str], dict]:
    """Bodies of MLflow's routes, which name the run and experiment by id (the world's)."""
    mlflow, run = "/api/2.0/mlflow", {"run_id": world["run_id"]}
    metric = {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 1}
    source = f"lakecache://{PROJECT}/cats@{world['commit_id']}"
    return {
        ("POST", mlflow + "/experiments/create"): {"name": f"{PROJECT}/mlflow-{caller.name}"},
        ("POST", mlflow + "/experiments/search"): {"max_results": 10},
        ("POST", mlflow + "/runs/create"): {"experiment_id": world["experiment_id"], "run_name": caller.name},
        ("POST", mlflow + "/runs/update"): {**run, "run_name": f"renamed-by-{caller.name}"},
        ("POST", mlflow + "/runs/search"): {"experiment_ids": [world["experiment_id"]], "filter": "metrics.loss < 1"},
        ("POST", mlflow + "/logged-models/search"): {"experiment_ids": [world["experiment_id"]]},
        ("POST", mlflow + "/runs/log-metric"): {**run, **metric},
        ("POST", mlflow + "/runs/log-parameter"): {**run, "key": f"by-{caller.name}", "value": "1"},
        ("POST", mlflow + "/runs/set-tag"): {**run, "key": "by", "value": caller.name},
        ("POST", mlflow + "/runs/delete-tag"): {**run, "key": "by"},
        ("POST", mlflow + "/runs/log-batch"): {**run, "metrics": [metric], "params": [{"key": "b", "value": "2"}]},
        ("POST", mlflow + "/runs/log-inputs"): {**run, "datasets": [{"dataset": {
            "name": "cats", "digest": "d", "source_type": "lakecache", "source": source}}]},
    }


def mlflow_query(path: str, world: dict[str, str]) -> dict[str, str] | None:
    """Query values of MLflow's GET routes (the world's run and experiment)."""
    return {
        "/api/2.0/mlflow/experiments/get-by-name": {"experiment_name": f"{PROJECT}/matrix"},
        "/api/2.0/mlflow/experiments/get": {"experiment_id": world["experiment_id"]},
        "/api/2.0/mlflow/runs/get": {"run_id": world["run_id"], "run_uuid": world["run_id"]},
        "/api/2.0/mlflow/metrics/get-history": {"run_id": world["run_id"], "metric_key": "loss"},
        "/api/2.0/mlflow-artifacts/artifacts": {"path": f"{world['experiment_id']}/{world['run_id']}/artifacts"},
    }.get(path)


def values_for(path: str, world: dict[str, str]) -> dict[str, str]:
    """Path variables: ``{name}`` is a dataset, a volume, an import location or a user depending on the route."""
    name = ("cats" if path.startswith("/api/v1/datasets/") else VOLUME if "/volumes/" in path
            else "raw" if "/import-locations/" in path else "tgt")
    return {**world, "name": name}


def request_options(method: str, path: str, caller: Caller, world: dict[str, str]) -> dict:
    """How the matrix sends a route its body: raw bytes for content uploads, else JSON."""
    if path.endswith("/contents/{sha256}") or path.endswith("/artifacts/{path}") and method == "PUT":
        return {"data": CONTENT, "headers": {"Content-Type": "application/octet-stream"}}
    return {"json": sample_body(method, path, caller, world)}


def project_touched(requirement: Permission, path: str) -> str | None:
    """The project a request of the matrix touches, as the route's permission finds it."""
    source = requirement.project_from
    if source is None:
        return None
    # Path, query and body name the world's project; lookups find the world's copy's project.
    return PROJECT if callable(source) or source in ("query:project", "body:project") or "{project}" in path else None


@pytest.fixture
async def callers(auth, clock, world) -> list[Caller]:
    system = Actor.system()
    editor = await make_user(auth, "ed", {PROJECT: Role.EDITOR})
    job = await issue_job_token(auth, project=PROJECT, run_id=world["run_id"], issuer_id=editor.id,
                                expires_at=clock() + timedelta(hours=6), actor=system)
    people = {
        "outsider": ({OTHER: Role.ADMIN}, False),
        "viewer": ({PROJECT: Role.VIEWER}, False),
        "admin": ({}, True),
    }
    made = {name: await make_user(auth, name, roles, admin=admin) for name, (roles, admin) in people.items()}
    return [
        Caller("anonymous", {}, "anonymous", {}),
        Caller("outsider", made["outsider"].header, "user", {OTHER: Role.ADMIN}),
        Caller("viewer", made["viewer"].header, "user", {PROJECT: Role.VIEWER}),
        Caller("editor", editor.header, "user", {PROJECT: Role.EDITOR}),
        Caller("admin", made["admin"].header, "user", {}, global_admin=True),
        Caller("job", {"Authorization": f"Bearer {job.token}"}, "job", {}),
    ]


@pytest.fixture
async def world(auth, store, backends, tmp_path) -> dict[str, str]:
    """Project vision's dataset ``cats`` with a commit, its copy ready at site dgx and a lease on it;
    an import location of vision's with a file in it; the user the user routes act on and a token
    of theirs (not any caller's)."""
    someone = await make_user(auth, "tgt")
    issued = await issue_user_token(auth, someone.id, Actor.system(), name="victim")
    owner = await make_user(auth, "owner", {PROJECT: Role.ADMIN})
    installer = await make_user(auth, "installer", admin=True)
    spare = tmp_path / "spare-volume"
    spare.mkdir()
    imports = backends.home.resolve() / "lake" / "imports" / PROJECT
    (imports / "raw").mkdir(parents=True)
    (imports / "raw" / "labels.csv").write_bytes(b"file,label\n")
    async with gateway_client(auth, store, backends.upstreams(), backends.bus_url) as client:
        async with client.put(f"/api/v1/projects/{PROJECT}/import-locations/raw", headers=installer.header,
                              json={"url": imports.as_uri()}) as response:
            assert response.status == 201, await response.text()
        data = tmp_path / "data"
        data.mkdir()
        (data / "a.bin").write_bytes(b"matrix")
        settings = ClientSettings(api_url=str(client.make_url("")).rstrip("/"), token=owner.token,
                                  cache_dir=tmp_path / "client", home=tmp_path / "no-home")
        async with CatalogClient(settings) as catalog:
            await catalog.create_dataset(PROJECT, "cats")
            commit = (await sync_directory(catalog, DatasetRef(PROJECT, "cats"), data, message="m")).commit
        async with client.post("/api/v1/caches", headers=owner.header,
                               json={"project": PROJECT, "dataset": "cats", "site": SITE}) as response:
            assert response.status == 202, await response.text()
        copy = f"/api/v1/projects/{PROJECT}/sites/{SITE}/copies/{commit['id']}"

        async def ready() -> bool:
            async with client.get(copy, headers=owner.header) as response:
                return (await response.json())["state"] == "ready"

        await eventually(ready, message="the matrix's copy to be ready")
        async with client.post(copy + "/leases", headers=owner.header, json={"holder": "matrix"}) as response:
            lease = await response.json()
        runs = f"/api/v1/projects/{PROJECT}"
        async with client.post(runs + "/experiments", headers=owner.header, json={"name": "matrix"}) as response:
            assert response.status == 201, await response.text()
            experiment = await response.json()
        async with client.post(runs + "/runs", headers=owner.header,
                               json={"experiment_id": experiment["id"], "name": "matrix"}) as response:
            assert response.status == 201, await response.text()
            run = await response.json()
    return {"project": PROJECT, "token_id": issued.id, "run_id": run["id"], "experiment_id": experiment["id"],
            "path": "model/weights.bin", "ref": "latest", "tag": "v1", "site": SITE,
            "commit_id": commit["id"], "lease_id": lease["id"], "dataset_id": commit["dataset_id"],
            "spare_volume": str(spare), "sha256": hashlib.sha256(CONTENT).hexdigest(),
            "import_location": imports.as_uri(), "import_source": (imports / "raw").as_uri()}


def concrete(path: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values[m.group(1)], path)


def test_the_route_table_covers_every_route_and_matches_the_registry(auth, store):
    app = gateway_app(auth, store)
    registry = api_registry()
    policy = route_policy(auth, registry)
    table = policy.table(app)
    assert policy.problems(app) == []
    shared = set(PUBLIC_PATHS)
    pages = {(page.method, page.path): page.permission for page in PAGES}
    for rule in table:
        assert rule.requirement is not None, f"{rule.method} {rule.path} declares nothing"
        if isinstance(rule.requirement, Permission):
            assert rule.requirement.action in ACTIONS
        operation = registry.find(rule.method, rule.path)
        if (rule.method, rule.path) in pages:
            assert rule.requirement == pages[rule.method, rule.path]
        elif rule.path == STATIC_PATH:
            assert rule.requirement is PUBLIC
        elif operation is None:
            assert rule.path in shared, f"{rule.method} {rule.path} is neither an operation, a page nor a shared probe"
        else:
            assert rule.requirement == (PUBLIC if operation.public else operation.permission)
    routed = {(rule.method, rule.path) for rule in table}
    assert {(o.method, o.path) for o in registry} <= routed


async def test_every_route_answers_every_caller_as_the_actions_table_says(auth, store, callers, world, backends):
    policy = route_policy(auth, api_registry())
    audit = store.collection("audit")
    surprises: list[str] = []
    async with gateway_client(auth, store, backends.upstreams(), backends.bus_url) as client:
        for rule in policy.table(client.app):
            for caller in callers:
                path = concrete(rule.path, values_for(rule.path, world))
                if rule.path == STATIC_PATH:  # the directory itself lists nothing (403): ask for a file in it
                    path = f"{STATIC_PATH}/app.css"
                request_id = uuid.uuid4().hex
                headers = {**caller.header, "X-Request-Id": request_id}
                options = request_options(rule.method, rule.path, caller, world)
                headers.update(options.pop("headers", {}))
                requirement = rule.requirement
                query = ({"project": PROJECT} if isinstance(requirement, Permission)
                         and requirement.project_from == "query:project" else
                         {"from": "latest", "to": "latest"} if rule.path.endswith("/diff") else
                         {"key": "loss"} if rule.path.endswith("/metric-history") else
                         {"node": f"run:{world['run_id']}"} if rule.path.endswith("/lineage") else
                         mlflow_query(rule.path, world))
                if rule.path.endswith("/events"):  # a live stream: its status line is what counts here
                    async with client.request(rule.method, path, headers=headers) as response:
                        status = response.status
                        response.close()
                else:
                    async with client.request(rule.method, path, headers=headers, params=query,
                                              **options) as response:
                        status = response.status
                records = await audit.count_documents({"request_id": request_id})
                where = f"{rule.method} {rule.path} as {caller.name}: {status}"

                if requirement is PUBLIC:
                    allowed, denial = True, None
                else:
                    assert isinstance(requirement, Permission)
                    project = project_touched(requirement, rule.path)
                    allowed = expected_allowed(caller, requirement.action, project)
                    extra = OBJECT_ACTIONS.get((rule.method, rule.path))
                    if extra is not None:
                        allowed = allowed and expected_allowed(caller, extra, project)
                    denial = 401 if caller.kind == "anonymous" else 403
                if allowed:
                    if status in (401, 403) or status >= 500:
                        surprises.append(f"{where}, expected to be allowed")
                    mutating = rule.method not in ("GET", "HEAD") and requirement is not PUBLIC
                    if records != int(mutating):
                        surprises.append(f"{where}: {records} audit records, expected {int(mutating)}")
                else:
                    if status != denial:
                        surprises.append(f"{where}, expected {denial} (an unexpected allow if 2xx)")
                    if records != 1:
                        surprises.append(f"{where}: {records} audit records for a denial, expected 1")
    assert surprises == []
