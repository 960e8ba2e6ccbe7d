"""``GET /api/v1/audit`` (installation administrators): who did or tried what, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from lakecache.gateway.api.common import API, ListQuery, NextCursor, ProjectName, auth_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.http.operation import Operation

Outcome = Literal["succeeded", "failed", "denied"]


class AuditQuery(ListQuery):
    project: ProjectName | None = Field(None, description="Only records about this project.")
    actor: str | None = Field(None, min_length=1, max_length=200,
                              description="Only this actor: `user:<name>`, `run:<run id>`, `anonymous`, `system`.")
    action: str | None = Field(None, min_length=1, max_length=100, description="Only this action: a domain event "
                               "(`token.created`, `role.granted`) or a permission (`datasets:write`).")
    outcome: Outcome | None = Field(None, description="Only this outcome.")
    before: AwareDatetime | None = Field(None, description="Only records older than this instant (e.g. "
                                                           "`2030-01-01T00:00:00Z`).")


class AuditRecord(BaseModel):
    id: str
    at: datetime
    actor: str = Field(description="`user:<name>`, `run:<run id>`, `anonymous` (no valid token) or `system`.")
    actor_kind: str
    user_id: str | None = Field(description="The user answerable: the user, or the issuer of a job token.")
    token_id: str | None = Field(description="The id of the token used (never the token).")
    request_id: str | None
    route: str | None = Field(description="`METHOD /path/{template}` of the request.")
    action: str
    outcome: Outcome
    project: str | None
    target: str | None = Field(description="The object acted on, e.g. `token:<id>` or `user:<name>`.")
    reason: str | None = Field(description="Why it was denied or failed, or a detail of the change.")
    status: int | None = Field(description="The HTTP status answered, for denials and request records.")


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next_cursor: NextCursor


async def list_audit(request: web.Request, query: AuditQuery) -> AuditPage:
    docs, cursor = await auth_of(request).audit.page(project=query.project, actor=query.actor, action=query.action,
                                                     outcome=query.outcome, before=query.before, limit=query.limit,
                                                     cursor=query.cursor)
    return AuditPage(items=[AuditRecord(**{**d, "id": d["_id"]}) for d in docs], next_cursor=cursor)


OPERATIONS = [
    Operation("GET", f"{API}/audit", list_audit, "Read the audit log", Permission("audit:read"), query=AuditQuery,
              response=AuditPage, tag="audit",
              description="One record per change (tokens, users, roles), per mutating request and per denied "
                          "request, newest first. Records are never changed or deleted by the gateway."),
]
