"""``/projects/{project}/members`` (``members:read`` in the project): who holds which role, with
grant, change and remove controls for those who may ``members:write`` — sent to the members API
by the page's script. Two reads: a page of memberships and the names of those users."""

from __future__ import annotations

from typing import get_args

from aiohttp import web

from lakecache.gateway.api.common import API, RoleName, auth_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.memberships import check_project
from lakecache.gateway.web import backends
from lakecache.gateway.web.admin import cursor_of
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

MEMBERS_SHOWN = 100
ROLES: tuple[str, ...] = get_args(RoleName)


async def members_page(request: web.Request) -> web.StreamResponse:
    project = check_project(request.match_info["project"])
    backends.check(request, "members:read", project)
    auth = auth_of(request)
    docs, next_cursor = await auth.memberships.page(project, limit=MEMBERS_SHOWN, cursor=cursor_of(request))
    names = await auth.users.names_of(doc["user_id"] for doc in docs)
    members = [{"user": names.get(doc["user_id"]), "user_id": doc["user_id"], "role": doc["role"],
                "granted_by": doc["granted_by"], "granted_at": doc["granted_at"]} for doc in docs]
    return render(request, "members.html", title=f"Members of {project}", project=project, members=members,
                  next_cursor=next_cursor, roles=ROLES, api=API,
                  can_write=backends.allowed(request, "members:write", project),
                  can_see_users=backends.allowed(request, "users:read"))


PAGES = [Page("/projects/{project}/members", members_page, "Members",
              Permission("members:read", project_from="match_info:project"))]
