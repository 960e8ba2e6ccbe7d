"""The tokens API over HTTP: who am I, tokens shown once, revocation at once, job tokens."""

from __future__ import annotations

from datetime import timedelta

from lakecache.gateway.auth import Role
from tests.gateway.conftest import audit_records, everything_stored, handed_out, make_user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(client, method, path, headers=None, **kwargs):
    async with client.request(method, path, headers=headers, **kwargs) as response:
        body = await response.json() if response.content_type.endswith("json") else await response.text()
        return response.status, body


async def test_me_names_the_user_and_their_role_in_each_project(api, auth):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR, "speech": Role.VIEWER})
    status, me = await call(api, "GET", "/api/v1/me", ada.header)
    assert status == 200
    assert (me["kind"], me["name"], me["subject"], me["global_admin"]) == ("user", "ada", "user:ada", False)
    assert me["roles"] == {"speech": "viewer", "vision": "editor"}


async def test_me_for_a_job_token_names_its_run_and_project(api, auth, store, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    await handed_out(store, "vision", "run-7")
    expires = (clock() + timedelta(hours=2)).isoformat()
    status, issued = await call(api, "POST", "/api/v1/projects/vision/runs/run-7/job-tokens", ada.header,
                                json={"expires_at": expires})
    assert status == 201 and issued["kind"] == "job" and issued["run_id"] == "run-7"
    status, me = await call(api, "GET", "/api/v1/me", bearer(issued["token"]))
    assert status == 200
    assert (me["kind"], me["run_id"], me["project"], me["issued_by"]) == ("job", "run-7", "vision", ada.id)
    assert "log to its own run" in me["may"]


async def test_a_new_token_is_shown_once_and_listings_never_hold_a_secret(api, auth, store):
    ada = await make_user(auth, "ada")
    status, created = await call(api, "POST", "/api/v1/tokens", ada.header, json={"name": "laptop"})
    assert status == 201 and created["token"].startswith("lct_") and created["name"] == "laptop"
    status, me = await call(api, "GET", "/api/v1/me", bearer(created["token"]))
    assert status == 200 and me["token_id"] == created["id"]

    status, page = await call(api, "GET", "/api/v1/tokens", ada.header)
    assert status == 200 and created["id"] in {t["id"] for t in page["items"]}
    assert all("token" not in t and "hash" not in t for t in page["items"])
    assert created["token"] not in await everything_stored(store)


async def test_a_token_lifetime_is_bounded_by_the_settings(api, auth):
    ada = await make_user(auth, "ada")
    status, problem = await call(api, "POST", "/api/v1/tokens", ada.header, json={"expires_in_days": 400})
    assert status == 400 and "365 days" in problem["detail"]
    status, created = await call(api, "POST", "/api/v1/tokens", ada.header, json={"expires_in_days": 7})
    assert status == 201 and created["expires_at"] == "2030-01-08T00:00:00Z"


async def test_a_revoked_token_fails_on_the_very_next_request(api, auth):
    ada = await make_user(auth, "ada")
    _, created = await call(api, "POST", "/api/v1/tokens", ada.header, json={"name": "ci"})
    token = bearer(created["token"])
    assert (await call(api, "GET", "/api/v1/me", token))[0] == 200

    status, _ = await call(api, "DELETE", f"/api/v1/tokens/{created['id']}", ada.header)
    assert status == 204
    async with api.get("/api/v1/me", headers=token) as response:
        problem = await response.json()
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="lakecache", error="invalid_token"'
    assert "was revoked" in problem["detail"] and "create a new one" in problem["detail"]

    revoked = await audit_records(auth, action="token.revoked")
    assert [(r["actor"], r["target"]) for r in revoked] == [("user:ada", f"token:{created['id']}")]
    denied = await audit_records(auth, outcome="denied")
    assert [(r["actor"], r["token_id"], r["status"]) for r in denied] == [("user:ada", created["id"], 401)]


async def test_only_administrators_revoke_other_peoples_tokens(api, auth):
    ada, bob = await make_user(auth, "ada"), await make_user(auth, "bob")
    root = await make_user(auth, "root", admin=True)
    _, created = await call(api, "POST", "/api/v1/tokens", bob.header, json={})

    status, problem = await call(api, "DELETE", f"/api/v1/tokens/{created['id']}", ada.header)
    assert status == 403 and "reserved to installation administrators" in problem["detail"]
    assert (await call(api, "GET", "/api/v1/me", bearer(created["token"])))[0] == 200

    assert (await call(api, "DELETE", f"/api/v1/tokens/{created['id']}", root.header))[0] == 204
    assert (await call(api, "GET", "/api/v1/me", bearer(created["token"])))[0] == 401
    status, problem = await call(api, "DELETE", f"/api/v1/tokens/{'0' * 32}", root.header)
    assert status == 404 and "no token with id" in problem["detail"]


async def test_an_issuer_lists_and_revokes_the_job_tokens_they_issued(api, auth, store):
    ed = await make_user(auth, "ed", {"vision": Role.EDITOR})
    await handed_out(store, "vision", "r1")
    _, issued = await call(api, "POST", "/api/v1/projects/vision/runs/r1/job-tokens", ed.header,
                           json={"expires_at": "2030-01-01T05:00:00Z"})
    _, page = await call(api, "GET", "/api/v1/tokens", ed.header)
    assert issued["id"] in {t["id"] for t in page["items"] if t["kind"] == "job"}
    assert (await call(api, "DELETE", f"/api/v1/tokens/{issued['id']}", ed.header))[0] == 204
    assert (await call(api, "GET", "/api/v1/me", bearer(issued["token"])))[0] == 401
    _, page = await call(api, "GET", "/api/v1/tokens?include_revoked=true", ed.header)
    assert {t["id"]: t["revoked"] for t in page["items"]}[issued["id"]] is True


async def test_job_tokens_need_an_editor_and_an_expiry_with_a_time_zone_within_the_limit(api, auth, store):
    ed = await make_user(auth, "ed", {"vision": Role.EDITOR})
    vera = await make_user(auth, "vera", {"vision": Role.VIEWER})
    await handed_out(store, "vision", "r1")
    await handed_out(store, "speech", "r2")
    path = "/api/v1/projects/vision/runs/r1/job-tokens"
    # Only a run the gateway handed out in this project gets a token: not an invented id, nor another project's.
    for other in ("/api/v1/projects/vision/runs/invented/job-tokens", "/api/v1/projects/vision/runs/r2/job-tokens"):
        status, problem = await call(api, "POST", other, ed.header, json={"expires_at": "2030-01-01T05:00:00Z"})
        assert status == 404 and "has no run" in problem["detail"], problem
    status, problem = await call(api, "POST", path, vera.header, json={"expires_at": "2030-01-01T05:00:00Z"})
    assert status == 403 and "jobs:issue needs editor" in problem["detail"]
    status, problem = await call(api, "POST", path, ed.header, json={"expires_at": "2030-01-01T05:00:00"})
    assert status == 400 and problem["errors"][0]["location"] == "body.expires_at"
    status, problem = await call(api, "POST", path, ed.header, json={"expires_at": "2030-03-01T00:00:00Z"})
    assert status == 400 and "within 30 days" in problem["detail"]
    status, problem = await call(api, "POST", path, ed.header, json={})
    assert status == 400 and problem["errors"] == [{"location": "body.expires_at", "message": "required, but missing"}]


async def test_token_listings_page_with_a_cursor(api, auth, clock):
    ada = await make_user(auth, "ada")
    for i in range(4):
        clock.advance(minutes=1)
        await call(api, "POST", "/api/v1/tokens", ada.header, json={"name": f"t{i}"})
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await call(api, "GET", "/api/v1/tokens" + query, ada.header)
        assert status == 200 and len(page["items"]) <= 2
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t3", "t2", "t1", "t0", "tests"]  # newest first, each once


async def test_administrators_list_a_users_tokens(api, auth):
    ada = await make_user(auth, "ada")
    root = await make_user(auth, "root", admin=True)
    status, page = await call(api, "GET", "/api/v1/users/ada/tokens", root.header)
    assert status == 200 and [t["user_id"] for t in page["items"]] == [ada.id]
    assert (await call(api, "GET", "/api/v1/users/nobody/tokens", root.header))[0] == 404
    assert (await call(api, "GET", "/api/v1/users/root/tokens", ada.header))[0] == 403


async def test_an_administrator_gives_a_new_user_their_first_token(api, auth):
    root = await make_user(auth, "root", admin=True)
    await call(api, "POST", "/api/v1/users", root.header, json={"name": "ada"})
    status, created = await call(api, "POST", "/api/v1/users/ada/tokens", root.header, json={"name": "first"})
    assert status == 201 and created["created_by"] == "user:root"
    status, me = await call(api, "GET", "/api/v1/me", bearer(created["token"]))
    assert status == 200 and me["name"] == "ada"
    status, own = await call(api, "POST", "/api/v1/tokens", bearer(created["token"]), json={"name": "second"})
    assert status == 201 and own["created_by"] == "user:ada"
    assert (await call(api, "POST", "/api/v1/users/root/tokens", bearer(created["token"]), json={}))[0] == 403
    assert (await call(api, "POST", "/api/v1/users/nobody/tokens", root.header, json={}))[0] == 404
