"""Project members: who holds which role in a project (granted and revoked by its admins)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.errors import NotFound
from lakecache.gateway.api.common import (
    API,
    Input,
    ListQuery,
    MemberPath,
    NextCursor,
    ProjectPath,
    RoleName,
    auth_of,
)
from lakecache.gateway.api.users import user_named
from lakecache.gateway.auth import Permission, Role, actor_of
from lakecache.gateway.auth import memberships as stored
from lakecache.gateway.http.operation import Operation


class RoleChange(Input):
    role: RoleName = Field(description="viewer reads; editor also changes data and issues job tokens; admin also "
                                       "manages members, pins and deletions.")


class Member(BaseModel):
    project: str
    user_id: str
    user: str | None = Field(description="The user's name.")
    role: RoleName
    granted_by: str = Field(description="Who granted the role (`user:<name>` or `system`).")
    granted_at: datetime


class MemberPage(BaseModel):
    items: list[Member]
    next_cursor: NextCursor


async def list_members(request: web.Request, params: ProjectPath, query: ListQuery) -> MemberPage:
    auth = auth_of(request)
    docs, cursor = await auth.memberships.page(params.project, limit=query.limit, cursor=query.cursor)
    names = await auth.users.names_of(d["user_id"] for d in docs)
    items = [Member(**stored.membership_json(d), user=names.get(d["user_id"])) for d in docs]
    return MemberPage(items=items, next_cursor=cursor)


async def set_member_role(request: web.Request, params: MemberPath, body: RoleChange) -> Member:
    auth = auth_of(request)
    user = await user_named(auth, params.name)
    await stored.grant_role(auth, params.project, user["_id"], Role.parse(body.role), actor_of(request))
    doc = await auth.memberships.get(params.project, user["_id"])
    if doc is None:  # revoked by someone else in between
        raise NotFound(f"{params.name!r} holds no role in project {params.project!r} any more; grant it again")
    return Member(**stored.membership_json(doc), user=user["name"])


async def remove_member(request: web.Request, params: MemberPath) -> None:
    auth = auth_of(request)
    user = await user_named(auth, params.name)
    await stored.revoke_role(auth, params.project, user["_id"], actor_of(request))


_PROJECT = "match_info:project"
_MEMBERS = f"{API}/projects/{{project}}/members"

OPERATIONS = [
    Operation("GET", _MEMBERS, list_members, "List a project's members",
              Permission("members:read", project_from=_PROJECT), params=ProjectPath, query=ListQuery,
              response=MemberPage, tag="members", description="Everyone holding a role in the project."),
    Operation("PUT", f"{_MEMBERS}/{{name}}", set_member_role, "Grant a role in a project",
              Permission("members:write", project_from=_PROJECT), params=MemberPath, body=RoleChange,
              response=Member, errors=(404,), tag="members",
              description="Gives the user the role in the project, replacing the role they held there. A project "
                          "exists for authorization as soon as someone holds a role in it."),
    Operation("DELETE", f"{_MEMBERS}/{{name}}", remove_member, "Revoke a role in a project",
              Permission("members:write", project_from=_PROJECT), params=MemberPath, status=204, errors=(404,),
              tag="members", description="Takes the user's role in the project away (nothing to do if they had "
                                         "none). Job tokens they issued in the project stop working too."),
]
