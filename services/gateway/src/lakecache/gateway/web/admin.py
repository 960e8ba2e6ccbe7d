"""``/admin`` (installation administrators): the users, and one user's tokens and memberships.

These are the gateway's own data: pages read its repositories directly, as the API's handlers
do, and every change (create, disable, enable, a first token, revoke) is a call to the users and
tokens API from the page's script. A page of users costs two reads (the users, then everyone's
roles in one query) and the list of projects; a user's page three.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.api.common import API, auth_of
from lakecache.gateway.api.users import user_named
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.users import check_name, user_json
from lakecache.gateway.web import backends
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render
from lakecache.gateway.web.token_list import token_rows

#: Users per page; tokens per page on a user's page.
USERS_SHOWN = 50
TOKENS_SHOWN = 50


def cursor_of(request: web.Request) -> str | None:
    """The ``cursor`` query value; the repositories refuse one they did not write (a 400 page)."""
    cursor = request.query.get("cursor") or None
    if cursor is not None and len(cursor) > 512:
        raise InvalidArgument("the cursor is not one this page wrote; start again from the first page")
    return cursor


async def users_page(request: web.Request) -> web.StreamResponse:
    backends.check(request, "users:read")
    auth = auth_of(request)
    docs, next_cursor = await auth.users.page(limit=USERS_SHOWN, cursor=cursor_of(request))
    roles = await auth.memberships.roles_of_users(doc["_id"] for doc in docs)
    users = [{**user_json(doc), "roles": sorted(roles.get(doc["_id"], {}).items())} for doc in docs]
    return render(request, "admin_users.html", title="Users", users=users, next_cursor=next_cursor,
                  projects=await auth.memberships.projects(), api=API,
                  can_write=backends.allowed(request, "users:write"))


async def user_page(request: web.Request) -> web.StreamResponse:
    backends.check(request, "users:read")
    auth = auth_of(request)
    user = await user_named(auth, check_name(request.match_info["name"]))
    include_revoked = request.query.get("revoked") == "1"
    docs, next_cursor = await auth.tokens.page(user_id=user["_id"], include_revoked=include_revoked,
                                               limit=TOKENS_SHOWN, cursor=cursor_of(request))
    roles = sorted((await auth.memberships.roles_of(user["_id"])).items())
    can_write = backends.allowed(request, "users:write")
    rows: list[dict[str, Any]] = token_rows(docs, now=auth.clock(), current=None, revocable=can_write)
    return render(request, "admin_user.html", title=f"User {user['name']}", user=user_json(user), roles=roles,
                  tokens=rows, next_cursor=next_cursor, include_revoked=include_revoked, api=API,
                  can_write=can_write)


PAGES = [
    Page("/admin", users_page, "Users", Permission("users:read")),
    Page("/admin/users/{name}", user_page, "User", Permission("users:read")),
]
