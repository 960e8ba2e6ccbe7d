"""Signing in and out of the dashboard (``sessions.py`` describes the session itself).

``GET /login`` shows a form for a user token; ``POST /login`` checks it, opens a session, sets
its cookie and goes on to ``next`` (a path of this site only). The form is protected against
login forgery (another site signing a victim's browser in as the attacker) by a double-submit
value: a random ``lakecache_login`` cookie (``SameSite=Strict``, ``HttpOnly``) that the form
repeats; a cross-site POST carries neither. ``POST /logout`` (a form with the session's CSRF
token, checked by the auth middleware) revokes the session and clears its cookie.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from lakecache.core.errors import InvalidArgument, LakeCacheError
from lakecache.gateway.api.common import auth_of
from lakecache.gateway.auth import PUBLIC, Permission
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.authenticate import Unauthenticated, live_token
from lakecache.gateway.auth.context import REQUEST_ID_KEY, SESSION_KEY, actor_of, principal_of
from lakecache.gateway.auth.sessions import clear_cookie, open_session, set_cookie
from lakecache.gateway.auth.tokens import PREFIX, revoke_token
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

LOGIN_COOKIE = "lakecache_login"
_FIELD = "login_check"


def secure(request: web.Request) -> bool:
    mode = auth_of(request).settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.secure)


def local_target(value: str | None) -> str:
    """``value`` when it is a path of this site (``/…``, not ``//host`` nor ``/\\host``), else ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or any(c < " " for c in value):
        return "/"
    return value


def _form(request: web.Request, *, error: str | None = None, status: int = 200, target: str | None = None,
          notice: str | None = None) -> web.Response:
    check = secrets.token_urlsafe(16)
    response = render(request, "login.html", title="Sign in", status=status, error=error, notice=notice,
                      next=local_target(target), check=check, field=_FIELD)
    response.set_cookie(LOGIN_COOKIE, check, max_age=3600, path="/login", httponly=True, samesite="Strict",
                        secure=secure(request))
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    notice = "Your session ended; sign in again." if request.query.get("expired") else None
    return _form(request, target=request.query.get("next"), notice=notice)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    target = form.get("next") if isinstance(form.get("next"), str) else None
    expected, given = request.cookies.get(LOGIN_COOKIE, ""), form.get(_FIELD)
    site = request.headers.get("Sec-Fetch-Site")
    if site not in (None, "same-origin") or not (expected and isinstance(given, str)
                                                 and hmac.compare_digest(expected, given)):
        return _form(request, status=400, target=target,
                     error="This sign-in form expired or came from another site; sign in here again.")
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    auth = auth_of(request)
    anonymous = Actor("anonymous", "anonymous", request_id=request[REQUEST_ID_KEY], route="POST /login")

    async def refuse(reason: str, owner: dict | None = None) -> web.Response:
        await auth.audit.record(anonymous, "session.open", "denied", reason=reason, status=401,
                                target=f"token:{owner['_id']}" if owner else None)
        return _form(request, status=401, target=target, error=reason)

    if not token.startswith(PREFIX):
        return await refuse(f"That is not a LakeCache token (they start with {PREFIX}).")
    try:
        doc, user = await live_token(auth, token)
    except Unauthenticated as exc:
        return await refuse(str(exc))
    if doc["kind"] != "user" or doc.get("session") or user is None or user["disabled"]:
        return await refuse("Sign in with a person's user token (not a job token, a session or a disabled user's).",
                            doc)
    actor = Actor(f"user:{user['name']}", "user", user["_id"], doc["_id"], request[REQUEST_ID_KEY], "POST /login")
    try:
        session = await open_session(auth, doc, actor)
    except LakeCacheError as exc:
        return _form(request, status=400, target=target, error=str(exc))
    response = web.Response(status=303, headers={"Location": local_target(target)})
    set_cookie(response, session, secure=secure(request))
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    if SESSION_KEY not in request:  # an API token would revoke itself: sign-out is the browser's
        raise InvalidArgument("sign-out ends a browser session; revoke an API token with DELETE /api/v1/tokens/{id}")
    await revoke_token(auth_of(request), principal_of(request).token_id, actor_of(request))
    response = web.Response(status=303, headers={"Location": "/login"})
    clear_cookie(response, secure=secure(request))
    return response


PAGES = [
    Page("/login", login_page, "Sign in", PUBLIC),
    Page("/login", login, "Sign in", PUBLIC, method="POST"),
    Page("/logout", logout, "Sign out", Permission("self:read"), method="POST"),
]
