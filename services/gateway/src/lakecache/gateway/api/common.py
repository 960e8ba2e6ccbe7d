"""What the gateway's API modules share: the auth store on the app, names, paths and paging."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from lakecache.core.contracts.fields import Slug
from lakecache.core.publishing import EventPublisher
from lakecache.gateway.auth import AuthStore, Role
from lakecache.gateway.auth.users import NAME_PATTERN
from lakecache.gateway.repositories.pages import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT

API = "/api/v1"

AUTH_KEY = web.AppKey("lakecache_auth", AuthStore)
#: How the gateway sends commands (cache requests, manual evictions) on the bus.
PUBLISHER_KEY = web.AppKey("lakecache_publisher", EventPublisher)


def auth_of(request: web.Request) -> AuthStore:
    return request.app[AUTH_KEY]


def publisher_of(request: web.Request) -> EventPublisher:
    return request.app[PUBLISHER_KEY]


# Built from Role, so a new role shows up in the API without another list to update.
RoleName = Literal[tuple(str(role) for role in Role)]  # type: ignore[valid-type]
ProjectName = Annotated[Slug, Field(description="A project: 1-63 lower-case letters, digits and inner dashes.")]
UserName = Annotated[str, Field(pattern=NAME_PATTERN, description="A user name: 1-100 lower-case letters, digits "
                                                                  "and . _ @ - (starting and ending alphanumeric).")]
Cursor = Annotated[str, Field(min_length=1, max_length=MAX_CURSOR, pattern=r"^[A-Za-z0-9_-]+$",
                              description="The `next_cursor` of the previous page.")]
NextCursor = Annotated[str | None, Field(description="Pass as `cursor` for the next page; null on the last page.")]


class Input(BaseModel):
    """A request's path, query or body: unknown fields are refused (a typo should not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class ListQuery(Input):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Most items in one page.")
    cursor: Cursor | None = None


class ProjectPath(Input):
    project: ProjectName


class UserPath(Input):
    name: UserName


class MemberPath(Input):
    project: ProjectName
    name: UserName
