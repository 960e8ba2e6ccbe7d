"""``/admin/audit`` (``audit:read``): the audit log, newest first, a page at a time, filtered by
actor, action, project, outcome and time as the API's ``GET /api/v1/audit`` is — the same query
model validates the filters, and the repository filters and pages (one read per page)."""

from __future__ import annotations

from typing import get_args

from aiohttp import web
from pydantic import ValidationError

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.api.audit import AuditQuery, Outcome
from lakecache.gateway.api.common import auth_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.web import backends
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

RECORDS_SHOWN = 50
FILTERS = ("actor", "action", "project", "outcome", "before")


async def audit_page(request: web.Request) -> web.StreamResponse:
    backends.check(request, "audit:read")
    given = {key: request.query[key].strip() for key in (*FILTERS, "cursor") if request.query.get(key, "").strip()}
    try:
        query = AuditQuery.model_validate({**given, "limit": RECORDS_SHOWN})
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InvalidArgument(f"the filter {where} is not valid: {problem['msg']}") from None
    docs, next_cursor = await auth_of(request).audit.page(
        project=query.project, actor=query.actor, action=query.action, outcome=query.outcome, before=query.before,
        limit=query.limit, cursor=query.cursor)
    fields = ("at", "actor", "action", "route", "outcome", "status", "project", "target", "reason")
    records = [{field: doc.get(field) for field in fields} for doc in docs]
    filters = {key: value for key, value in given.items() if key != "cursor"}
    return render(request, "audit.html", title="Audit log", records=records, filters=filters,
                  next_cursor=next_cursor, outcomes=get_args(Outcome))


PAGES = [Page("/admin/audit", audit_page, "Audit log", Permission("audit:read"))]
