"""Users and project members over HTTP: administrators manage users, project admins their members."""

from __future__ import annotations

from lakecache.gateway.auth import Role
from tests.gateway.conftest import handed_out, make_user
from tests.gateway.test_api_tokens import bearer, call


async def test_an_administrator_creates_shows_and_lists_users(api, auth):
    root = await make_user(auth, "root", admin=True)
    async with api.post("/api/v1/users", headers=root.header, json={"name": "ada"}) as response:
        assert response.status == 201 and response.headers["Location"] == "/api/v1/users/ada"
        created = await response.json()
    assert (created["name"], created["global_admin"], created["disabled"], created["created_by"]) == (
        "ada", False, False, "user:root")
    status, problem = await call(api, "POST", "/api/v1/users", root.header, json={"name": "ada"})
    assert status == 409 and "already exists" in problem["detail"]

    await call(api, "PUT", "/api/v1/projects/vision/members/ada", root.header, json={"role": "editor"})
    status, shown = await call(api, "GET", "/api/v1/users/ada", root.header)
    assert status == 200 and shown["roles"] == {"vision": "editor"} and shown["id"] == created["id"]
    status, problem = await call(api, "GET", "/api/v1/users/nobody", root.header)
    assert status == 404 and "GET /api/v1/users lists them" in problem["detail"]


async def test_user_listings_page_by_name_and_refuse_foreign_cursors(api, auth):
    root = await make_user(auth, "root", admin=True)
    for name in ("dan", "bea", "eve", "abe"):
        await call(api, "POST", "/api/v1/users", root.header, json={"name": name})
    names, cursor = [], None
    while True:
        status, page = await call(api, "GET", "/api/v1/users", root.header,
                                  params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert status == 200
        names += [u["name"] for u in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert names == ["abe", "bea", "dan", "eve", "root"]

    await call(api, "POST", "/api/v1/tokens", root.header, json={})  # two tokens: a page of one has a cursor
    _, tokens = await call(api, "GET", "/api/v1/tokens", root.header, params={"limit": 1})
    status, problem = await call(api, "GET", "/api/v1/users", root.header, params={"cursor": tokens["next_cursor"]})
    assert status == 400 and "not one this listing returned" in problem["detail"]
    status, problem = await call(api, "GET", "/api/v1/users", root.header, params={"cursor": "garbage"})
    assert status == 400 and "start again without a cursor" in problem["detail"]


async def test_a_disabled_user_loses_every_token_for_good_and_comes_back_only_with_new_ones(api, auth, store):
    root = await make_user(auth, "root", admin=True)
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    await handed_out(store, "vision", "run-1")
    status, job = await call(api, "POST", "/api/v1/projects/vision/runs/run-1/job-tokens", ada.header,
                             json={"expires_at": "2030-01-01T06:00:00Z"})
    assert status == 201, job
    status, user = await call(api, "POST", "/api/v1/users/ada/disable", root.header)
    assert status == 200 and user["disabled"] is True and "revoked for good" in user["note"]
    for header in (ada.header, bearer(job["token"])):
        status, problem = await call(api, "GET", "/api/v1/me", header)
        assert status == 401 and "was revoked" in problem["detail"]

    status, user = await call(api, "POST", "/api/v1/users/ada/enable", root.header)
    assert status == 200 and user["disabled"] is False
    assert "with a new token" in user["note"] and "stay revoked" in user["note"]
    for header in (ada.header, bearer(job["token"])):  # what leaked before the disable stays dead
        assert (await call(api, "GET", "/api/v1/me", header))[0] == 401
    status, fresh = await call(api, "POST", "/api/v1/users/ada/tokens", root.header, json={"name": "again"})
    assert status == 201, fresh
    status, me = await call(api, "GET", "/api/v1/me", bearer(fresh["token"]))
    assert status == 200 and me["roles"] == {"vision": "editor"}  # the account and its roles are back


async def test_the_last_administrator_cannot_be_disabled(api, auth):
    root = await make_user(auth, "root", admin=True)
    status, problem = await call(api, "POST", "/api/v1/users/root/disable", root.header)
    assert status == 409 and "last active installation administrator" in problem["detail"]


async def test_user_names_are_validated_with_actionable_errors(api, auth):
    root = await make_user(auth, "root", admin=True)
    status, problem = await call(api, "POST", "/api/v1/users", root.header, json={"name": "Ada Lovelace", "admin": 1})
    assert status == 400 and problem["type"] == "urn:lakecache:problem:invalid-request"
    errors = {e["location"]: e["message"] for e in problem["errors"]}
    assert "lower-case letters" in errors["body.name"]
    assert errors["body.admin"].startswith("unknown field")


async def test_project_admins_manage_members_and_viewers_see_them(api, auth):
    pam = await make_user(auth, "pam", {"vision": Role.ADMIN})
    vera = await make_user(auth, "vera", {"vision": Role.VIEWER})
    await make_user(auth, "ada")
    status, member = await call(api, "PUT", "/api/v1/projects/vision/members/ada", pam.header, json={"role": "editor"})
    assert status == 200 and (member["user"], member["role"], member["granted_by"]) == ("ada", "editor", "user:pam")

    status, page = await call(api, "GET", "/api/v1/projects/vision/members", vera.header)
    assert status == 200 and {m["user"]: m["role"] for m in page["items"]} == {
        "pam": "admin", "vera": "viewer", "ada": "editor"}
    status, problem = await call(api, "PUT", "/api/v1/projects/vision/members/ada", vera.header,
                                 json={"role": "admin"})
    assert status == 403 and "members:write needs admin" in problem["detail"]
    status, problem = await call(api, "PUT", "/api/v1/projects/speech/members/ada", pam.header,
                                 json={"role": "viewer"})
    assert status == 403 and "no role in project 'speech'" in problem["detail"]

    assert (await call(api, "DELETE", "/api/v1/projects/vision/members/ada", pam.header))[0] == 204
    _, page = await call(api, "GET", "/api/v1/projects/vision/members", vera.header)
    assert "ada" not in {m["user"] for m in page["items"]}


async def test_roles_and_projects_are_validated(api, auth):
    root = await make_user(auth, "root", admin=True)
    await make_user(auth, "ada")
    status, problem = await call(api, "PUT", "/api/v1/projects/vision/members/ada", root.header,
                                 json={"role": "owner"})
    assert status == 400 and problem["errors"][0]["location"] == "body.role"
    assert "'viewer', 'editor' or 'admin'" in problem["errors"][0]["message"]
    status, problem = await call(api, "GET", "/api/v1/projects/Vision_X/members", root.header)
    assert status == 400 and problem["errors"][0]["location"] == "path.project"
    status, problem = await call(api, "PUT", "/api/v1/projects/vision/members/nobody", root.header,
                                 json={"role": "viewer"})
    assert status == 404
