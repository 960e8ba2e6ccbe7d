"""Browser sessions: the dashboard's credential, kept in a cookie the page's scripts cannot read.

A person signs in with a user token (``/login``). The gateway checks it and issues a *session*:
a token of its own (stored hashed like every token, listed as ``browser session`` among the
user's tokens, revoked by signing out or with ``lakecache token revoke``), which lives in the
``lakecache_session`` cookie — ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
site's page sends it), ``Secure`` under HTTPS, ``Path=/`` — and nowhere else: never in a URL,
never in the page, never in browser storage. The token typed at sign-in is not kept anywhere.

A session:

* works only from the cookie: sent as ``Authorization: Bearer`` it is refused, so it is always
  used under the checks below;
* ends at its ``expires_at`` (``session_ttl``, never after the token it was opened with), when
  it is revoked, or as soon as the token it was opened with is revoked or expires — so revoking
  a leaked token also closes the browser sessions opened with it;
* acts with the user's current roles, like any user token.

**Cross-site request forgery.** Every request that changes something (any method but GET/HEAD)
and is authenticated by the cookie must carry the session's CSRF token — the ``X-CSRF-Token``
header or the ``csrf_token`` form field — and, when the browser says where it comes from
(``Sec-Fetch-Site``), come from this origin. The CSRF token is an HMAC of the session's secret,
so it needs no storage, differs per session and tells nothing about the secret; pages put it in
their forms. ``SameSite=Strict`` already keeps other sites' requests cookie-less; the token is
the second, independent lock (an older browser, a subdomain, a misconfigured proxy).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from yarl import URL

from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.auth.tokens import IssuedToken, insert_token

COOKIE = "lakecache_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_NAME = "browser session"
_CSRF_CONTEXT = b"lakecache csrf v1"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def open_session(auth: AuthStore, login: dict[str, Any], actor: Actor) -> IssuedToken:
    """A session for the owner of the user token ``login`` (its stored document, already
    verified), ending after ``session_ttl`` or with ``login``, whichever comes first."""
    expires_at = min(auth.clock() + auth.settings.session_ttl, login["expires_at"])
    return await insert_token(auth, actor, {"kind": "user", "name": SESSION_NAME, "user_id": login["user_id"],
                                            "session": True, "parent_id": login["_id"], "expires_at": expires_at})


def csrf_token(session: str) -> str:
    """The CSRF token of the session whose secret is ``session``."""
    return hmac.new(session.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(session: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session), given or "")


async def forgery(request: web.Request, session: str) -> str | None:
    """Why a change made with the session cookie may be forged (see the module), or ``None``."""
    site = request.headers.get("Sec-Fetch-Site")
    if site not in (None, "same-origin"):
        return f"a change sent from another site ({site}) with the session cookie is refused"
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in _FORMS:
        given = (await request.post()).get(CSRF_FIELD)  # aiohttp keeps the parsed form for the handler
    if not csrf_matches(session, given if isinstance(given, str) else None):
        return (f"the CSRF token is missing or wrong: a change made with the session cookie carries the page's "
                f"{CSRF_FIELD} field or the {CSRF_HEADER} header; reload the page and try again")
    return None


def wants_page(request: web.Request) -> bool:
    """Whether a browser navigates here (a GET asking for HTML outside the API): send it to sign in."""
    return (request.method == "GET" and not request.path.startswith("/api/")
            and "text/html" in request.headers.get("Accept", ""))


def sign_in_first(request: web.Request, *, signed_out: bool) -> web.Response:
    """The redirection to the sign-in page, coming back here afterwards."""
    target = URL("/login").with_query({"next": request.rel_url.path_qs, **({"expired": "1"} if signed_out else {})})
    response = web.Response(status=303, headers={"Location": str(target)})
    if signed_out:
        clear_cookie(response, secure=request.secure)
    return response


def set_cookie(response: web.StreamResponse, session: IssuedToken, *, secure: bool) -> None:
    """The session's cookie, ending when the session does."""
    expires_at = datetime.fromisoformat(session.info["expires_at"].replace("Z", "+00:00"))
    seconds = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(COOKIE, session.token, max_age=seconds, path="/", httponly=True, samesite="Strict",
                        secure=secure)


def clear_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    response.del_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure)
