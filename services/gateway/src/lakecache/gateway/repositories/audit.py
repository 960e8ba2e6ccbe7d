"""The ``audit`` collection: one document per record (``_id`` a generated id, ``at``, the actor,
the action, its outcome, project, target, reason, status; see ``lakecache.gateway.auth.audit``).

Append-only by construction: this repository can add and read records, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lakecache.core.ports.docstore import Document, DocumentStore, Filter
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "audit"
#: Newest first, ties by id (stable pages).
NEWEST_FIRST = Keyset("audit", (("at", -1), ("_id", 1)))


class AuditRepository:
    """The records of the audit log."""

    def __init__(self, store: DocumentStore) -> None:
        self._records = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._records.create_index([("at", -1), ("_id", 1)])
        await self._records.create_index([("project", 1), ("at", -1)])
        await self._records.create_index([("actor", 1), ("at", -1)])

    async def append(self, record: Mapping[str, Any]) -> str:
        """Store ``record``; its id."""
        return await self._records.insert_one(record)

    async def find(self, *, project: str | None = None, actor: str | None = None, outcome: str | None = None,
                   action: str | None = None, before: datetime | None = None, limit: int) -> list[Document]:
        """Up to ``limit`` records newest first, of one project, actor, outcome or action when given,
        older than ``before``."""
        return await self._records.find_list(_matching(project, actor, outcome, action, before),
                                             sort=list(NEWEST_FIRST.sort), limit=limit)

    async def page(self, *, project: str | None = None, actor: str | None = None, outcome: str | None = None,
                   action: str | None = None, before: datetime | None = None, limit: int,
                   cursor: str | None) -> Page:
        """One page of :meth:`find`'s records, after ``cursor``."""
        return await page(self._records, _matching(project, actor, outcome, action, before), NEWEST_FIRST,
                          limit=limit, cursor=cursor)


def _matching(project: str | None, actor: str | None, outcome: str | None, action: str | None,
              before: datetime | None) -> Filter:
    query: dict[str, Any] = {key: value for key, value in (("project", project), ("actor", actor),
                                                           ("outcome", outcome), ("action", action))
                             if value is not None}
    if before is not None:
        query["at"] = {"$lt": before}
    return query
