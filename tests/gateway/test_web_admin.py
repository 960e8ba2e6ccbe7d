"""The dashboard's admin pages and one's own tokens, over HTTP against the gateway's app, signed in
with a browser session: users, a user's tokens and memberships, a project's members, the audit
log and ``/tokens``. These pages read only the gateway's own data (the backends stay unreachable)."""

from __future__ import annotations

import html as html_text
import re
from datetime import timedelta

from markupsafe import escape

from lakecache.gateway.auth import Actor, Role
from lakecache.gateway.auth.sessions import csrf_token
from lakecache.gateway.auth.tokens import hash_token, issue_job_token, issue_user_token
from tests.gateway import test_sessions
from tests.gateway.conftest import audit_records, make_user
from tests.gateway.test_sessions import HTML, cookie, session_of, sign_in

#: The gateway's client without a cookie jar: each request sends exactly the session cookie it names.
api = test_sessions.api

HOSTILE = '<img src=x onerror="alert(1)">&"'


async def signed_in(api, someone) -> str:
    status, headers, _ = await sign_in(api, someone.token)
    assert status == 303
    return session_of(headers)


async def page(api, path: str, session: str, *, status: int = 200) -> str:
    async with api.get(path, headers={**HTML, **cookie(session)}, allow_redirects=False) as answer:
        body = await answer.text()
        assert answer.status == status, body
        return body


def row(html: str, marker: str) -> str:
    """The table row carrying ``marker`` (a data attribute)."""
    found = re.search(r"<tr[^>]*" + re.escape(marker) + r".*?</tr>", html, re.S)
    assert found, f"no row {marker} in the page"
    return found.group(0)


async def test_an_administrator_sees_users_with_their_projects_roles_and_actions(api, auth):
    root = await make_user(auth, "root", admin=True)
    await make_user(auth, "alice", {"vision": Role.EDITOR, "speech": Role.VIEWER})
    gone = await make_user(auth, "gone")
    await auth.users.set_flag(gone.id, "disabled", True)
    html = await page(api, "/admin", await signed_in(api, root))

    alice = row(html, 'data-user="alice"')
    assert '<a href="/admin/users/alice">alice</a>' in alice
    assert '<a href="/projects/speech/members">speech</a> <span class="muted">viewer</span>' in alice
    assert '<a href="/projects/vision/members">vision</a> <span class="muted">editor</span>' in alice
    assert 'data-api-path="/api/v1/users/alice/disable"' in alice
    assert 'data-api-path="/api/v1/users/alice/tokens" data-done="show-token"' in alice
    assert "administrator" in row(html, 'data-user="root"')
    assert "/users/root/disable" not in row(html, 'data-user="root"')  # not offered on one's own row
    disabled = row(html, 'data-user="gone"')
    assert "disabled" in disabled and "/users/gone/enable" in disabled and "show-token" not in disabled
    assert 'data-api-path="/api/v1/users" data-done="reload"' in html  # create a user
    for project in ("speech", "vision"):  # every project's members page is linked from the projects list
        assert f'<li><a href="/projects/{project}/members">{project}</a></li>' in html
    assert '<a href="/tokens"' in html and '<a href="/admin" aria-current="page">Admin</a>' in html


async def test_the_users_list_is_paged(api, auth):
    root = await make_user(auth, "root", admin=True)
    for n in range(51):
        await auth.users.add({"_id": f"id{n:03}", "name": f"u{n:03}", "global_admin": False, "disabled": False,
                              "created_at": auth.clock(), "created_by": "system"})
    session = await signed_in(api, root)
    first = await page(api, "/admin", session)
    assert 'data-user="root"' in first and 'data-user="u048"' in first and 'data-user="u049"' not in first
    more = re.search(r'<a class="more" href="([^"]+)"', first).group(1)
    second = await page(api, html_text.unescape(more), session)
    assert 'data-user="u049"' in second and 'data-user="u050"' in second and 'data-user="root"' not in second
    await page(api, "/admin?cursor=not-ours", session, status=400)


async def test_an_administrator_sees_a_users_tokens_and_memberships_never_a_secret(api, auth, store):
    root = await make_user(auth, "root", admin=True)
    alice = await make_user(auth, "alice", {"vision": Role.ADMIN})
    laptop = await issue_user_token(auth, alice.id, Actor.system(), name="laptop")
    html = await page(api, "/admin/users/alice", await signed_in(api, root))

    assert '<a href="/projects/vision/members">vision</a></td><td>admin</td>' in html
    laptop_row = row(html, f'data-token="{laptop.id}"')
    assert "laptop" in laptop_row and f'data-api-path="/api/v1/tokens/{laptop.id}"' in laptop_row
    assert 'data-api-path="/api/v1/users/alice/tokens" data-done="show-token"' in html
    for secret in (alice.token, laptop.token):
        assert secret not in html and hash_token(secret) not in html
    assert "lct_" not in html
    await page(api, "/admin/users/nobody", await signed_in(api, root), status=404)


async def test_a_non_administrator_is_refused_the_admin_pages_and_the_refusal_is_audited(api, auth):
    alice = await make_user(auth, "alice", {"vision": Role.ADMIN})
    session = await signed_in(api, alice)
    for path in ("/admin", "/admin/audit", "/admin/users/alice"):
        await page(api, path, session, status=403)
    denied = await audit_records(auth, actor="user:alice", outcome="denied")
    assert sorted(r["action"] for r in denied) == ["audit:read", "users:read", "users:read"]
    assert all(r["status"] == 403 for r in denied)
    assert 'href="/admin"' not in await page(api, "/tokens", session)  # and no Admin link in the header


async def test_the_audit_log_is_newest_first_filtered_and_paged(api, auth, clock):
    root = await make_user(auth, "root", admin=True)
    alice = await make_user(auth, "alice")
    await page(api, "/admin", await signed_in(api, alice), status=403)
    for n in range(55):
        clock.advance(seconds=1)
        await auth.audit.record(Actor.system(), "role.granted", "succeeded", project="vision", target=f"user:n{n}",
                                reason=HOSTILE if n == 54 else None)
    session = await signed_in(api, root)

    html = await page(api, "/admin/audit", session)
    assert html.index("user:n54") < html.index("user:n53")  # newest first
    assert HOSTILE not in html and escape(HOSTILE) in html
    more = re.search(r'<a class="more" href="([^"]+)"', html).group(1)
    older = await page(api, html_text.unescape(more), session)
    assert "user:n0<" in older and "user:n54" not in older

    denials = await page(api, "/admin/audit?outcome=denied&actor=user:alice", session)
    assert "users:read" in denials and "role.granted" not in denials
    assert '<a href="/admin/audit?actor=user%3Aalice"' in denials  # each actor narrows the log to them
    assert '<option selected>denied</option>' in denials and 'value="user:alice"' in denials
    by_project = await page(api, "/admin/audit?project=vision&action=role.granted", session)
    assert by_project.count('class="outcome-succeeded"') == 50
    await page(api, "/admin/audit?outcome=maybe", session, status=400)
    echoed = await page(api, "/admin/audit?actor=" + HOSTILE.replace("&", "%26"), session)
    assert HOSTILE not in echoed and "&lt;img src=x" in echoed


async def test_a_project_admin_sees_members_with_controls_and_a_viewer_without(api, auth):
    owner = await make_user(auth, "owner", {"vision": Role.ADMIN})
    viewer = await make_user(auth, "viewer", {"vision": Role.VIEWER})
    outsider = await make_user(auth, "outsider", {"speech": Role.ADMIN})

    html = await page(api, "/projects/vision/members", await signed_in(api, owner))
    member = row(html, 'data-member="viewer"')
    assert "<td>viewer</td>" in member
    assert 'data-api-method="PUT" data-api-path="/api/v1/projects/vision/members/viewer"' in member
    assert 'data-api-method="DELETE" data-api-path="/api/v1/projects/vision/members/viewer"' in member
    assert 'data-api-path="/api/v1/projects/vision/members/{name}"' in html  # grant a role to anyone
    assert "<td>admin</td>" in row(html, 'data-member="owner"')

    read_only = await page(api, "/projects/vision/members", await signed_in(api, viewer))
    assert "<td>admin</td>" in row(read_only, 'data-member="owner"')
    assert "data-api-method" not in read_only and "Give someone a role" not in read_only
    await page(api, "/projects/vision/members", await signed_in(api, outsider), status=403)
    [denied] = await audit_records(auth, actor="user:outsider", outcome="denied")
    assert denied["action"] == "members:read" and denied["project"] == "vision"


async def test_my_tokens_mark_this_browser_and_never_show_a_secret_or_hash(api, auth, store, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    laptop = await issue_user_token(auth, ada.id, Actor.system(), name=HOSTILE)
    job = await issue_job_token(auth, project="vision", run_id="r-7", issuer_id=ada.id,
                                expires_at=clock() + timedelta(hours=2), actor=Actor.system())
    other = await make_user(auth, "other")
    session = await signed_in(api, ada)
    [session_doc] = [t for t in await auth.tokens.listing(user_id=ada.id) if t.get("session")]
    html = await page(api, "/tokens", session)

    this = row(html, f'data-token="{session_doc["_id"]}"')
    assert "this browser" in this and "browser session" in this
    assert "data-api-method" not in this and "sign out to end it" in this
    [typed] = [t for t in await auth.tokens.listing(user_id=ada.id) if t["name"] == "tests"]  # signed in with it
    opened_with = row(html, f'data-token="{typed["_id"]}"')
    assert "opened with it" in opened_with and "session was opened with it and ends too" in opened_with
    assert f'data-api-path="/api/v1/tokens/{laptop.id}"' in row(html, f'data-token="{laptop.id}"')
    assert "run r-7 in vision" in row(html, f'data-token="{job.id}"')
    assert other.id not in html and 'data-api-path="/api/v1/tokens" data-done="show-token"' in html
    assert HOSTILE not in html and escape(HOSTILE) in html
    stored = await store.collection("tokens").find_list({})
    assert len(stored) >= 5 and all(doc["hash"] not in html for doc in stored)
    for secret in (ada.token, laptop.token, job.token, session, other.token):
        assert secret not in html
    assert "lct_" not in html and '<a href="/tokens" aria-current="page">My tokens</a>' in html


async def test_a_token_revoked_from_my_tokens_leaves_the_list(api, auth):
    ada = await make_user(auth, "ada")
    laptop = await issue_user_token(auth, ada.id, Actor.system(), name="laptop")
    session = await signed_in(api, ada)
    html = await page(api, "/tokens", session)
    path = re.search(r'data-api-method="DELETE" data-api-path="([^"]+)"', row(html, f'data-token="{laptop.id}"'))
    async with api.delete(path.group(1), headers={**cookie(session), "X-CSRF-Token": csrf_token(session)}) as answer:
        assert answer.status == 204
    assert f'data-token="{laptop.id}"' not in await page(api, "/tokens", session)
    revoked = row(await page(api, "/tokens?revoked=1", session), f'data-token="{laptop.id}"')
    assert "by user:ada" in revoked and "data-api-method" not in revoked


async def test_hostile_names_in_paths_are_refused_and_escaped(api, auth):
    root = await make_user(auth, "root", admin=True)
    session = await signed_in(api, root)
    body = await page(api, "/admin/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E", session, status=400)
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body
    body = await page(api, "/projects/%3Cb%3Ex/members", session, status=400)
    assert "<b>x" not in body and "&lt;b&gt;x" in body
