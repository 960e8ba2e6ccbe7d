"""``GET /api/v1/me``: who the token acts for — a user with roles per project, or a job's run."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, RootModel

from lakecache.gateway.api.common import API, RoleName
from lakecache.gateway.auth import JobPrincipal, Permission, principal_of
from lakecache.gateway.auth.actions import JOB_SCOPE
from lakecache.gateway.http.operation import Operation


class UserIdentity(BaseModel):
    """A user acting with one of their own tokens."""

    kind: Literal["user"]
    subject: str = Field(description="How audit records name the caller: `user:<name>`.")
    id: str
    name: str
    token_id: str = Field(description="The id of the token used (revoke it with DELETE /api/v1/tokens/{token_id}).")
    global_admin: bool = Field(description="An installation administrator (may do everything).")
    roles: dict[str, RoleName] = Field(description="The user's role in each project they belong to.")


class JobIdentity(BaseModel):
    """A training job acting for one run with a job token."""

    kind: Literal["job"]
    subject: str = Field(description="How audit records name the caller: `run:<run id>`.")
    run_id: str
    project: str = Field(description="The only project the token acts in.")
    token_id: str
    issued_by: str = Field(description="The id of the user who issued the token.")
    may: str = Field(description="What a job token may do.")


class Me(RootModel[Annotated[UserIdentity | JobIdentity, Field(discriminator="kind")]]):
    """The caller: a user or a job, told apart by `kind`."""


async def show_me(request: web.Request) -> Me:
    principal = principal_of(request)
    if isinstance(principal, JobPrincipal):
        return Me(JobIdentity(kind="job", subject=principal.subject, run_id=principal.run_id,
                              project=principal.project, token_id=principal.token_id,
                              issued_by=principal.issued_by, may=JOB_SCOPE))
    return Me(UserIdentity(kind="user", subject=principal.subject, id=principal.user_id, name=principal.name,
                           token_id=principal.token_id, global_admin=principal.global_admin,
                           roles={project: str(role) for project, role in sorted(principal.roles.items())}))


OPERATIONS = [
    Operation("GET", f"{API}/me", show_me, "Who am I", Permission("self:read"), response=Me, tag="me",
              description="The user or job the bearer token acts for, with the user's role in each project. "
                          "Use it to check a token."),
]
