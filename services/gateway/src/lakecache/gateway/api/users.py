"""Users (installation administrators): create, list, show, disable and enable.

Users are addressed by name in paths: names are unique, never change, and are what people type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.errors import NotFound
from lakecache.gateway.api.common import API, Input, ListQuery, NextCursor, RoleName, UserName, UserPath, auth_of
from lakecache.gateway.auth import AuthStore, Permission, actor_of
from lakecache.gateway.auth import users as stored
from lakecache.gateway.auth.memberships import roles_of
from lakecache.gateway.http.operation import Operation, Reply


class NewUser(Input):
    name: UserName
    global_admin: bool = Field(False, description="Make the user an installation administrator.")


class User(BaseModel):
    id: str
    name: str
    global_admin: bool = Field(description="An installation administrator (may do everything).")
    disabled: bool = Field(description="A disabled user cannot sign in; disabling revoked their tokens and the job "
                                       "tokens they issued for good.")
    created_at: datetime
    created_by: str = Field(description="Who created the user (`user:<name>` or `system`).")

    @classmethod
    def of(cls, doc: dict[str, Any]) -> User:
        return cls.model_validate(stored.user_json(doc))


class UserDetail(User):
    roles: dict[str, RoleName] = Field(description="The user's role in each project they belong to.")


class UserStateChanged(User):
    note: str = Field(description="What disabling or enabling did to the user's tokens, and what comes next.")


class UserPage(BaseModel):
    items: list[User]
    next_cursor: NextCursor


async def user_named(auth: AuthStore, name: str) -> dict[str, Any]:
    doc = await stored.find_user(auth, name)
    if doc is None:
        raise NotFound(f"no user named {name!r}; GET /api/v1/users lists them")
    return doc


async def create_user(request: web.Request, body: NewUser) -> Reply:
    doc = await stored.create_user(auth_of(request), body.name, actor_of(request), global_admin=body.global_admin)
    return Reply(User.of(doc), headers={"Location": f"{API}/users/{doc['name']}"})


async def list_users(request: web.Request, query: ListQuery) -> UserPage:
    docs, cursor = await auth_of(request).users.page(limit=query.limit, cursor=query.cursor)
    return UserPage(items=[User.of(d) for d in docs], next_cursor=cursor)


async def show_user(request: web.Request, params: UserPath) -> UserDetail:
    auth = auth_of(request)
    doc = await user_named(auth, params.name)
    roles = {project: str(role) for project, role in sorted((await roles_of(auth, doc["_id"])).items())}
    return UserDetail(**User.of(doc).model_dump(), roles=roles)


async def _set_disabled(request: web.Request, name: str, disabled: bool) -> UserStateChanged:
    auth = auth_of(request)
    doc = await user_named(auth, name)
    await stored.set_disabled(auth, doc["_id"], disabled, actor_of(request))
    if disabled:
        note = (f"every token of {name!r} and every job token they issued is revoked for good; enabling the user "
                "again will not bring them back")
    else:
        note = (f"{name!r} may sign in again, with a new token (an administrator creates one with POST "
                f"{API}/users/{name}/tokens); the tokens revoked when the user was disabled stay revoked")
    return UserStateChanged(**User.of(await stored.get_user(auth, doc["_id"])).model_dump(), note=note)


async def disable_user(request: web.Request, params: UserPath) -> UserStateChanged:
    return await _set_disabled(request, params.name, True)


async def enable_user(request: web.Request, params: UserPath) -> UserStateChanged:
    return await _set_disabled(request, params.name, False)


_USER = f"{API}/users/{{name}}"
_READ, _WRITE = Permission("users:read"), Permission("users:write")

OPERATIONS = [
    Operation("POST", f"{API}/users", create_user, "Create a user", _WRITE, body=NewUser, response=User,
              status=201, errors=(409,), tag="users",
              description="Creates a user who can then be given roles and tokens. Names are unique."),
    Operation("GET", f"{API}/users", list_users, "List users", _READ, query=ListQuery, response=UserPage,
              tag="users", description="Users by name, a page at a time."),
    Operation("GET", _USER, show_user, "Show a user", _READ, params=UserPath, response=UserDetail, errors=(404,),
              tag="users", description="The user and their role in each project."),
    Operation("POST", f"{_USER}/disable", disable_user, "Disable a user", _WRITE, params=UserPath,
              response=UserStateChanged, errors=(404, 409), tag="users",
              description="Revokes, for good, every token of the user and every job token they issued: they fail "
                          "from the next request on, and enabling the user again does not bring them back. Users "
                          "are never deleted (audit records point at them). The last active installation "
                          "administrator cannot be disabled (409)."),
    Operation("POST", f"{_USER}/enable", enable_user, "Enable a user", _WRITE, params=UserPath,
              response=UserStateChanged, errors=(404,), tag="users",
              description="The user may sign in again with new tokens (`POST /api/v1/users/{name}/tokens`); the "
                          "tokens revoked when the user was disabled stay revoked."),
]
