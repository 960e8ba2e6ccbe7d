"""Tokens: one's own (create, list, revoke), job tokens for a run, and administrators' view of anyone's.

A new token is in the creating response only; the gateway keeps its hash, so listings show
ids, names and expiry, never the secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from lakecache.gateway.api.common import API, Input, ListQuery, NextCursor, ProjectName, UserPath, auth_of
from lakecache.gateway.api.runs import own_run
from lakecache.gateway.api.users import user_named
from lakecache.gateway.auth import Permission, Resource, UserPrincipal, actor_of, principal_of, require
from lakecache.gateway.auth import tokens as stored
from lakecache.gateway.auth.tokens import MAX_NAME, IssuedToken
from lakecache.gateway.http.limits import NO_CONTROL
from lakecache.gateway.http.operation import Operation, Reply


class NewToken(Input):
    name: str = Field("", max_length=MAX_NAME, pattern=NO_CONTROL,
                      description="A note to recognise the token by, e.g. `laptop` (no control characters).")
    expires_in_days: int | None = Field(None, ge=1, le=36500, description="Lifetime; default and maximum are "
                                        "the gateway's user_token_days and max_user_token_days settings.")


class NewJobToken(Input):
    expires_at: AwareDatetime = Field(description="When the run is expected to end, with a time zone (e.g. "
                                      "`2030-01-01T18:00:00Z`); at most max_job_token_days ahead.")


class TokenQuery(ListQuery):
    include_revoked: bool = Field(False, description="Also list revoked tokens.")


class TokenInfo(BaseModel):
    id: str = Field(description="The token's id: not secret; use it to revoke the token.")
    kind: Literal["user", "job"]
    name: str
    user_id: str = Field(description="The owner (user tokens) or the issuer (job tokens).")
    project: str | None = Field(description="The project of a job token.")
    run_id: str | None = Field(description="The run of a job token.")
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked: bool
    revoked_at: datetime | None
    revoked_by: str | None


class CreatedToken(TokenInfo):
    token: str = Field(description="The secret: shown in this response only. Send it as `Authorization: Bearer "
                                   "<token>`; store it like a password.")


class TokenPage(BaseModel):
    items: list[TokenInfo]
    next_cursor: NextCursor


class TokenPath(Input):
    token_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="A token's id (from a listing or its creation).")


class RunPath(Input):
    project: ProjectName
    run_id: str = Field(min_length=1, max_length=128, pattern=r"^[^/\x00-\x1f\x7f]+$",
                        description="The run's id: no slash, no control characters.")


def _created(issued: IssuedToken) -> Reply:
    return Reply(CreatedToken(**issued.info, token=issued.token), headers={"Cache-Control": "no-store"})


async def _page(request: web.Request, user_id: str, query: TokenQuery) -> TokenPage:
    docs, cursor = await auth_of(request).tokens.page(user_id=user_id, include_revoked=query.include_revoked,
                                                      limit=query.limit, cursor=query.cursor)
    return TokenPage(items=[TokenInfo.model_validate(stored.token_json(d)) for d in docs], next_cursor=cursor)


def _me(request: web.Request) -> UserPrincipal:
    principal = principal_of(request)
    assert isinstance(principal, UserPrincipal)  # tokens:own is not a job action (see ACTIONS)
    return principal


async def create_token(request: web.Request, body: NewToken) -> Reply:
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return _created(await stored.issue_user_token(auth_of(request), _me(request).user_id, actor_of(request),
                                                  name=body.name, ttl=ttl))


async def list_my_tokens(request: web.Request, query: TokenQuery) -> TokenPage:
    return await _page(request, _me(request).user_id, query)


async def revoke_token(request: web.Request, params: TokenPath) -> None:
    auth, me = auth_of(request), _me(request)
    mine = await auth.tokens.exists(params.token_id, owner=me.user_id)
    if not mine:
        require(request, "users:write", Resource())  # someone else's token: administrators only
    await stored.revoke_token(auth, params.token_id, actor_of(request), owner=me.user_id if mine else None)


async def list_user_tokens(request: web.Request, params: UserPath, query: TokenQuery) -> TokenPage:
    user = await user_named(auth_of(request), params.name)
    return await _page(request, user["_id"], query)


async def create_user_token(request: web.Request, params: UserPath, body: NewToken) -> Reply:
    user = await user_named(auth_of(request), params.name)
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return _created(await stored.issue_user_token(auth_of(request), user["_id"], actor_of(request), name=body.name,
                                                  ttl=ttl))


async def issue_job_token(request: web.Request, params: RunPath, body: NewJobToken) -> Reply:
    # The run id is a reference like any other: only a run the gateway handed out in this project
    # gets a token (a token for an invented id would read the project's data for no run at all).
    await own_run(request, params.project, params.run_id)
    issued = await stored.issue_job_token(auth_of(request), project=params.project, run_id=params.run_id,
                                          issuer_id=principal_of(request).responsible_user_id,
                                          expires_at=body.expires_at, actor=actor_of(request))
    return _created(issued)


_OWN = Permission("tokens:own")

OPERATIONS = [
    Operation("POST", f"{API}/tokens", create_token, "Create a token for myself", _OWN, body=NewToken,
              response=CreatedToken, status=201, tag="tokens",
              description="A new token acting as the caller, with the caller's roles at each request. The secret "
                          "is in this response only."),
    Operation("GET", f"{API}/tokens", list_my_tokens, "List my tokens", _OWN, query=TokenQuery, response=TokenPage,
              tag="tokens", description="The caller's tokens and the job tokens they issued, newest first; "
                                        "never the secrets."),
    Operation("DELETE", f"{API}/tokens/{{token_id}}", revoke_token, "Revoke a token", _OWN, params=TokenPath,
              status=204, errors=(404,), tag="tokens",
              description="The token fails from the next request on, in every gateway process. Anyone may revoke "
                          "their own tokens and the job tokens they issued; installation administrators any token."),
    Operation("GET", f"{API}/users/{{name}}/tokens", list_user_tokens, "List a user's tokens",
              Permission("users:read"), params=UserPath, query=TokenQuery, response=TokenPage, errors=(404,),
              tag="tokens", description="For administrators: find the token to revoke."),
    Operation("POST", f"{API}/users/{{name}}/tokens", create_user_token, "Create a token for a user",
              Permission("users:write"), params=UserPath, body=NewToken, response=CreatedToken, status=201,
              errors=(404,), tag="tokens",
              description="For administrators: a user's first token (a new person, a service account). Hand the "
                          "secret over once; the user then creates further tokens themselves."),
    Operation("POST", f"{API}/projects/{{project}}/runs/{{run_id}}/job-tokens", issue_job_token,
              "Issue a job token for a run", Permission("jobs:issue", project_from="match_info:project"),
              params=RunPath, body=NewJobToken, response=CreatedToken, status=201, errors=(404,), tag="tokens",
              description="A token for the training job of the run: it may read the project's datasets and cached "
                          "copies, lease cached copies, log to this run and nothing else, until `expires_at` — or "
                          "until the issuer loses the right to issue it."),
]
