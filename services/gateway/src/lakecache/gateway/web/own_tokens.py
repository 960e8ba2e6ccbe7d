"""``/tokens``: the signed-in person's tokens and the job tokens they issued, to create and revoke.

Browser sessions are tokens too (``browser session``); the one this request came with is marked
and not offered for revocation — signing out ends it, and revoking it from the list would leave
the page unable to show its own answer. The token the current session was opened with is
marked as well: revoking it also ends this browser's session. Two reads: the current token and
one page of tokens.
"""

from __future__ import annotations

from aiohttp import web

from lakecache.gateway.api.common import API, auth_of
from lakecache.gateway.auth import Permission, UserPrincipal
from lakecache.gateway.auth.context import SESSION_KEY, principal_of
from lakecache.gateway.web import backends
from lakecache.gateway.web.admin import TOKENS_SHOWN, cursor_of
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render
from lakecache.gateway.web.token_list import token_rows


async def tokens_page(request: web.Request) -> web.StreamResponse:
    backends.check(request, "tokens:own")
    me = principal_of(request)
    assert isinstance(me, UserPrincipal)  # tokens:own is not a job action
    auth = auth_of(request)
    include_revoked = request.query.get("revoked") == "1"
    docs, next_cursor = await auth.tokens.page(user_id=me.user_id, include_revoked=include_revoked,
                                               limit=TOKENS_SHOWN, cursor=cursor_of(request))
    rows = token_rows(docs, now=auth.clock(), current=me.token_id, revocable=True)
    in_browser = request.get(SESSION_KEY) is not None
    current = await auth.tokens.get(me.token_id) if in_browser else None
    opened_with = current.get("parent_id") if current else None
    for row in rows:
        row["opened_this_session"] = row["id"] == opened_with
    return render(request, "tokens.html", title="My tokens", tokens=rows, next_cursor=next_cursor,
                  include_revoked=include_revoked, in_browser=in_browser, api=API)


PAGES = [Page("/tokens", tokens_page, "My tokens", Permission("tokens:own"))]
