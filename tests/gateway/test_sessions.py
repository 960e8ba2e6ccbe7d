"""Browser sessions of the dashboard: sign-in with a user token, the cookie, CSRF on every change,
sign-out, expiry and revocation. Over HTTP against the gateway's app (backends unreachable:
nothing here reads them); cookies are sent by hand so each test says exactly what a browser sends."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie

import aiohttp
import pytest

from lakecache.gateway.auth import Actor, Role
from lakecache.gateway.auth.sessions import COOKIE, csrf_token
from lakecache.gateway.auth.tokens import issue_job_token, revoke_token
from tests.gateway.conftest import audit_records, make_user

HTML = {"Accept": "text/html"}


@pytest.fixture
async def api(api):
    """The gateway's client without a cookie jar: each request sends exactly the cookies it names."""
    api.session._cookie_jar = aiohttp.DummyCookieJar()  # noqa: SLF001 - the test client offers no other way
    return api


async def sign_in_form(api) -> tuple[str, str]:
    """What the sign-in page hands a browser: its check cookie and the form's copy of it."""
    async with api.get("/login", headers=HTML) as page:
        assert page.status == 200
        html = await page.text()
        cookie = SimpleCookie(page.headers.get("Set-Cookie"))["lakecache_login"].value
    return cookie, re.search(r'name="login_check" value="([^"]+)"', html).group(1)


async def sign_in(api, token: str, *, next_path: str = "/", check: tuple[str, str] | None = None):
    cookie, field = check or await sign_in_form(api)
    form = {"login_check": field, "next": next_path, "token": token}
    async with api.post("/login", data=form, headers={**HTML, "Cookie": f"lakecache_login={cookie}"},
                        allow_redirects=False) as answer:
        return answer.status, answer.headers.copy(), await answer.text()


def session_of(headers) -> str:
    [line] = [v for k, v in headers.items() if k.lower() == "set-cookie" and v.startswith(COOKIE + "=")]
    return SimpleCookie(line)[COOKIE].value


def cookie(session: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={session}"}


async def test_signing_in_sets_a_strict_httponly_cookie_and_forgets_the_typed_token(api, auth):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    status, headers, body = await sign_in(api, ada.token, next_path="/sites")
    assert status == 303 and headers["Location"] == "/sites"
    [line] = [v for k, v in headers.items() if k.lower() == "set-cookie" and v.startswith(COOKIE)]
    attributes = line.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes.replace("samesite", "")  # plain HTTP here: a Secure cookie would be lost
    session = session_of(headers)
    assert session != ada.token and ada.token not in body

    async with api.get("/sites", headers={**HTML, **cookie(session)}) as page:
        html = await page.text()
        assert page.status == 200 and "ada" in html
        assert ada.token not in html and session not in html  # neither secret reaches the page
        assert f'content="{csrf_token(session)}"' in html
        assert page.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
            "Content-Security-Policy"]
    async with api.get("/api/v1/me", headers=cookie(session)) as me:  # reads of the API work with the cookie
        assert me.status == 200 and (await me.json())["name"] == "ada"
    [listed] = [t for t in (await auth.tokens.listing(user_id=ada.id)) if t.get("session")]
    assert listed["name"] == "browser session" and listed["expires_at"] <= auth.clock() + timedelta(hours=12)


@pytest.mark.parametrize("which", ["unknown", "job", "not-a-token"])
async def test_only_a_live_user_token_signs_in(api, auth, clock, which):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    token = {"unknown": "lct_" + "x" * 43, "not-a-token": "hunter2",
             "job": (await issue_job_token(auth, project="vision", run_id="r1", issuer_id=ada.id,
                                           expires_at=clock() + timedelta(hours=1), actor=Actor.system())).token}[which]
    status, headers, body = await sign_in(api, token)
    assert status == 401 and COOKIE not in headers.get("Set-Cookie", "")
    assert "problem" in body and token not in body
    [denied] = await audit_records(auth, action="session.open")
    assert denied["outcome"] == "denied"


async def test_a_sign_in_form_from_elsewhere_is_refused(api, auth):
    ada = await make_user(auth, "ada")
    cookie_value, field = await sign_in_form(api)
    assert (await sign_in(api, ada.token, check=("another", field)))[0] == 400
    async with api.post("/login", data={"login_check": field, "token": ada.token}, headers={
            **HTML, "Cookie": f"lakecache_login={cookie_value}", "Sec-Fetch-Site": "cross-site"},
            allow_redirects=False) as answer:
        assert answer.status == 400 and COOKIE not in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
async def test_signing_in_goes_on_only_to_a_page_of_this_site(api, auth, target):
    ada = await make_user(auth, "ada")
    status, headers, _ = await sign_in(api, ada.token, next_path=target)
    assert status == 303 and headers["Location"] == "/"


async def test_a_session_works_from_its_cookie_only_and_an_api_token_not_as_a_cookie(api, auth):
    ada = await make_user(auth, "ada")
    session = session_of((await sign_in(api, ada.token))[1])
    async with api.get("/api/v1/me", headers={"Authorization": f"Bearer {session}"}) as answer:
        assert answer.status == 401 and "cookie" in (await answer.json())["detail"]
    async with api.get("/api/v1/me", headers=cookie(ada.token)) as answer:
        assert answer.status == 401
    async with api.get("/sites", headers={**HTML, **cookie(ada.token)}, allow_redirects=False) as answer:
        assert answer.status == 303 and answer.headers["Location"].startswith("/login?next=/sites")


async def test_a_change_with_the_cookie_needs_the_sessions_csrf_token(api, auth):
    ada = await make_user(auth, "ada")
    session = session_of((await sign_in(api, ada.token))[1])
    async with api.post("/api/v1/tokens", json={"name": "forged"}, headers=cookie(session)) as answer:
        assert answer.status == 403 and "CSRF" in (await answer.json())["detail"]
    async with api.post("/api/v1/tokens", json={"name": "forged"},
                        headers={**cookie(session), "X-CSRF-Token": csrf_token("another session")}) as answer:
        assert answer.status == 403
    async with api.post("/api/v1/tokens", json={"name": "cross"}, headers={
            **cookie(session), "X-CSRF-Token": csrf_token(session), "Sec-Fetch-Site": "same-site"}) as answer:
        assert answer.status == 403 and "another site" in (await answer.json())["detail"]
    assert not [t for t in await auth.tokens.listing(user_id=ada.id) if t["name"] in ("forged", "cross")]
    assert len(await audit_records(auth, outcome="denied")) == 3

    async with api.post("/api/v1/tokens", json={"name": "laptop"}, headers={
            **cookie(session), "X-CSRF-Token": csrf_token(session), "Sec-Fetch-Site": "same-origin"}) as answer:
        assert answer.status == 201
    # A bearer token needs no CSRF token: no browser sends it on its own.
    async with api.post("/api/v1/tokens", json={"name": "cli"}, headers=ada.header) as answer:
        assert answer.status == 201


async def test_signing_out_revokes_the_session_and_clears_the_cookie(api, auth):
    ada = await make_user(auth, "ada")
    session = session_of((await sign_in(api, ada.token))[1])
    async with api.post("/logout", data={}, headers={**HTML, **cookie(session)}, allow_redirects=False) as answer:
        assert answer.status == 403  # no CSRF token: a forged sign-out is refused too
    async with api.post("/logout", data={"csrf_token": csrf_token(session)}, headers={**HTML, **cookie(session)},
                        allow_redirects=False) as answer:
        assert answer.status == 303 and answer.headers["Location"] == "/login"
        assert f"{COOKIE}=\"\"" in answer.headers["Set-Cookie"] or "Max-Age=0" in answer.headers["Set-Cookie"]
    async with api.get("/", headers={**HTML, **cookie(session)}, allow_redirects=False) as answer:
        assert answer.status == 303 and "expired=1" in answer.headers["Location"]
    async with api.post("/logout", headers=ada.header, allow_redirects=False) as answer:
        assert answer.status == 400  # an API token does not sign out (it would revoke itself)
    async with api.get("/api/v1/me", headers=ada.header) as answer:
        assert answer.status == 200


async def test_a_session_ends_with_its_time_and_with_the_token_it_was_opened_with(api, auth, clock):
    ada = await make_user(auth, "ada")
    first = session_of((await sign_in(api, ada.token))[1])
    clock.advance(hours=12, seconds=1)
    async with api.get("/", headers={**HTML, **cookie(first)}, allow_redirects=False) as answer:
        assert answer.status == 303 and answer.headers["Location"] == "/login?next=/&expired=1"

    second = session_of((await sign_in(api, ada.token))[1])
    async with api.get("/api/v1/me", headers=cookie(second)) as answer:
        assert answer.status == 200
    [opened_with] = [t for t in await auth.tokens.listing(user_id=ada.id) if t["name"] == "tests"]
    await revoke_token(auth, opened_with["_id"], Actor.system())
    async with api.get("/api/v1/me", headers=cookie(second)) as answer:
        assert answer.status == 401 and "opened with" in (await answer.json())["detail"]


async def test_a_refused_page_is_a_page_for_a_browser_and_a_problem_for_the_api(api, auth):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    session = session_of((await sign_in(api, ada.token))[1])
    async with api.get("/datasets/speech/audio", headers={**HTML, **cookie(session)}) as answer:
        assert answer.status == 403 and answer.content_type == "text/html"
        html = await answer.text()
        assert "Not allowed" in html and "speech" in html and "Sign out" in html
    async with api.get("/datasets/speech/audio", headers=ada.header) as answer:
        assert answer.status == 403 and answer.content_type == "application/problem+json"
