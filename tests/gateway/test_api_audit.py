"""The audit log over HTTP: one record per mutation and per denial, filters, pages; input limits."""

from __future__ import annotations

import uuid

from lakecache.gateway.auth import Role
from lakecache.gateway.http.operation import MAX_JSON_BODY
from tests.gateway.conftest import make_user
from tests.gateway.test_api_tokens import call


async def records_of(store, request_id: str) -> list[dict]:
    return await store.collection("audit").find_list({"request_id": request_id})


async def test_each_mutation_and_each_denial_writes_exactly_one_record(api, auth, store):
    root = await make_user(auth, "root", admin=True)
    vera = await make_user(auth, "vera", {"vision": Role.VIEWER})
    # (caller, method, path, body, expected status, expected (action, outcome) of the one record or None)
    steps = [
        (root, "POST", "/api/v1/users", {"name": "ada"}, 201, ("user.created", "succeeded")),
        (root, "POST", "/api/v1/users", {"name": "ada"}, 409, ("users:write", "failed")),
        (root, "POST", "/api/v1/users", {"name": "A"}, 400, ("users:write", "failed")),
        (root, "PUT", "/api/v1/projects/vision/members/ada", {"role": "viewer"}, 200, ("role.granted", "succeeded")),
        (root, "PUT", "/api/v1/projects/vision/members/ada", {"role": "viewer"}, 200, ("members:write", "succeeded")),
        (root, "POST", "/api/v1/users/ada/disable", None, 200, ("user.disabled", "succeeded")),
        (root, "POST", "/api/v1/users/ada/disable", None, 200, ("users:write", "succeeded")),
        (root, "DELETE", "/api/v1/projects/vision/members/ada", None, 204, ("role.revoked", "succeeded")),
        (vera, "POST", "/api/v1/tokens", {"name": "x"}, 201, ("token.created", "succeeded")),
        (vera, "GET", "/api/v1/users", None, 403, ("users:read", "denied")),
        (vera, "PUT", "/api/v1/projects/vision/members/vera", {"role": "admin"}, 403, ("members:write", "denied")),
        (vera, "DELETE", f"/api/v1/tokens/{'1' * 32}", None, 403, ("users:write", "denied")),
        (None, "GET", "/api/v1/me", None, 401, ("self:read", "denied")),
        (vera, "GET", "/api/v1/me", None, 200, None),
        (root, "GET", "/api/v1/audit", None, 200, None),
    ]
    for caller, method, path, body, expected_status, expected_record in steps:
        request_id = uuid.uuid4().hex
        headers = {**(caller.header if caller else {}), "X-Request-Id": request_id}
        status, _ = await call(api, method, path, headers, json=body)
        assert status == expected_status, (method, path)
        records = await records_of(store, request_id)
        found = [(r["action"], r["outcome"]) for r in records]
        assert found == ([expected_record] if expected_record else []), (method, path, found)


async def test_the_audit_log_filters_and_pages_newest_first(api, auth, clock):
    root = await make_user(auth, "root", admin=True)
    vera = await make_user(auth, "vera", {"vision": Role.VIEWER})
    for name in ("a1", "a2", "a3"):
        clock.advance(seconds=1)
        await call(api, "POST", "/api/v1/users", root.header, json={"name": name})
    clock.advance(seconds=1)
    await call(api, "PUT", "/api/v1/projects/vision/members/vera", vera.header, json={"role": "admin"})

    _, page = await call(api, "GET", "/api/v1/audit", root.header, params={"outcome": "denied"})
    assert [(r["actor"], r["action"], r["project"], r["status"]) for r in page["items"]] == [
        ("user:vera", "members:write", "vision", 403)]
    _, page = await call(api, "GET", "/api/v1/audit", root.header, params={"action": "user.created",
                                                                          "actor": "user:root"})
    assert [r["target"] for r in page["items"]] == ["user:a3", "user:a2", "user:a1"]
    _, page = await call(api, "GET", "/api/v1/audit", root.header, params={"project": "vision"})
    assert [r["action"] for r in page["items"]] == ["members:write", "role.granted"]  # the denial, vera's role
    _, page = await call(api, "GET", "/api/v1/audit", root.header,
                         params={"action": "user.created", "before": "2030-01-01T00:00:03Z"})
    targets = [r["target"] for r in page["items"]]
    assert targets[:2] == ["user:a2", "user:a1"] and set(targets[2:]) == {"user:root", "user:vera"}  # same instant

    seen, cursor = [], None
    while True:
        _, page = await call(api, "GET", "/api/v1/audit", root.header,
                             params={"limit": 2, "action": "user.created", **({"cursor": cursor} if cursor else {})})
        seen += [r["id"] for r in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen)) == 5  # root, vera (by the fixtures), a1-a3
    status, problem = await call(api, "GET", "/api/v1/audit", root.header, params={"outcome": "maybe"})
    assert status == 400 and problem["errors"][0]["location"] == "query.outcome"


async def test_the_largest_page_the_audit_log_offers_is_served(api, auth):
    root = await make_user(auth, "root", admin=True)
    status, page = await call(api, "GET", "/api/v1/audit", root.header, params={"limit": 1000})
    assert status == 200, page
    assert sorted(r["action"] for r in page["items"]) == ["token.created", "user.created"]  # make_user's
    assert page["next_cursor"] is None


async def test_bodies_over_the_limit_are_refused_before_reading_them(api, auth, store):
    root = await make_user(auth, "root", admin=True)
    request_id = uuid.uuid4().hex
    big = {"name": "x" * MAX_JSON_BODY}
    status, problem = await call(api, "POST", "/api/v1/tokens", {**root.header, "X-Request-Id": request_id},
                                 json=big)
    assert status == 413 and problem["type"] == "urn:lakecache:problem:payload-too-large"
    assert f"at most {MAX_JSON_BODY}" in problem["detail"]
    assert [(r["outcome"], r["status"]) for r in await records_of(store, request_id)] == [("failed", 413)]


async def test_unreadable_bodies_and_repeated_or_unknown_query_parameters_are_400(api, auth):
    root = await make_user(auth, "root", admin=True)
    status, problem = await call(api, "POST", "/api/v1/users", {**root.header, "Content-Type": "application/json"},
                                 data=b"{not json")
    assert status == 400 and problem["errors"][0]["location"] == "body" and "JSON" in problem["errors"][0]["message"]
    status, problem = await call(api, "GET", "/api/v1/users?limit=1&limit=2", root.header)
    assert status == 400 and problem["errors"] == [{"location": "query.limit", "message": "given more than once; "
                                                                                          "give it once"}]
    status, problem = await call(api, "GET", "/api/v1/users?limt=1", root.header)
    assert status == 400 and problem["errors"][0]["location"] == "query.limt"
    status, problem = await call(api, "GET", "/api/v1/users?limit=0", root.header)
    assert status == 400 and "greater than or equal to 1" in problem["errors"][0]["message"]
