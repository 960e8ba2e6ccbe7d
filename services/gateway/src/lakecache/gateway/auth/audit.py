"""The audit log: who did or tried what, to which project, when, and with what outcome.

Append-only by construction: :class:`AuditLog` exposes :meth:`~AuditLog.record`,
:meth:`~AuditLog.find` and :meth:`~AuditLog.page`, nothing that updates or deletes (retention,
when needed, is an operator's job on the ``audit`` collection, outside the gateway).

Exactly one record per mutation and one per denial:

* domain functions (tokens, users, roles) record the change they made, and nothing when a call
  changed nothing (revoking a revoked token);
* the middleware records each denial, and each mutating request (non-safe HTTP method) unless
  the handler's domain calls already recorded it — :attr:`Actor.recorded` tells it.

A record follows the change it describes: the store has no transactions across collections, so
a crash between the two writes loses the record; a failing audit write fails the request.
Records never hold a token, only its non-secret id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.auth.principals import Principal
from lakecache.gateway.repositories.audit import AuditRepository
from lakecache.gateway.repositories.pages import Page

Outcome = Literal["succeeded", "failed", "denied"]

MAX_PAGE = 1000


@dataclass
class Actor:
    """Who acts, as audit records name it, plus the request it acts in (if any).

    ``subject`` is ``user:<name>``, ``run:<run id>``, ``system`` (start-up) or ``anonymous``
    (no valid token). ``recorded`` counts the records written for this actor's request, so the
    middleware adds the request's own record only when no domain call wrote one.
    """

    subject: str
    kind: str
    user_id: str | None = None
    token_id: str | None = None
    request_id: str | None = None
    route: str | None = None
    recorded: int = 0

    @classmethod
    def of(cls, principal: Principal, *, request_id: str | None = None, route: str | None = None) -> Actor:
        return cls(principal.subject, principal.kind, principal.responsible_user_id, principal.token_id,
                   request_id, route)

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "system")


class AuditLog:
    """The audit log, append-only: records are added and read, never changed or removed."""

    def __init__(self, records: AuditRepository, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._clock = clock

    async def create_indexes(self) -> None:
        await self._records.create_indexes()

    async def record(self, actor: Actor, action: str, outcome: Outcome, *, project: str | None = None,
                     target: str | None = None, reason: str | None = None, status: int | None = None) -> str:
        """Append one record and return its id.

        ``action`` is what happened or was attempted: a domain event (``token.created``,
        ``role.granted``) or a route's permission (``datasets:write``). ``target`` names the
        object (a token id, ``user:<name>``, a run); ``reason`` says why (denials, failures).
        """
        doc = {"_id": uuid.uuid4().hex, "at": self._clock(), "actor": actor.subject, "actor_kind": actor.kind,
               "user_id": actor.user_id, "token_id": actor.token_id, "request_id": actor.request_id,
               "route": actor.route, "action": action, "outcome": outcome, "project": project,
               "target": target, "reason": reason, "status": status}
        record_id = await self._records.append(doc)
        actor.recorded += 1
        return record_id

    async def find(self, *, project: str | None = None, actor: str | None = None, outcome: str | None = None,
                   action: str | None = None, before: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest records first, optionally of one project, actor, outcome or action, older
        than ``before``."""
        return await self._records.find(project=project, actor=actor, outcome=outcome, action=action, before=before,
                                        limit=_checked(limit))

    async def page(self, *, project: str | None = None, actor: str | None = None, outcome: str | None = None,
                   action: str | None = None, before: datetime | None = None, limit: int = 100,
                   cursor: str | None = None) -> Page:
        """A page of :meth:`find`'s records after ``cursor`` (a previous page's), and the next cursor."""
        return await self._records.page(project=project, actor=actor, outcome=outcome, action=action, before=before,
                                        limit=_checked(limit), cursor=cursor)


def _checked(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument(f"limit must be from 1 to {MAX_PAGE}, got {limit}")
    return limit
