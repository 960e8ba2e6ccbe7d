"""The ``memberships`` collection: ``_id`` ``<project>:<user id>``, one document per (project,
user) holding the user's ``role`` there, with ``granted_by`` and ``granted_at``. Projects have
no collection of their own: a project exists for authorization once someone holds a role in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "memberships"
#: A project's members: by user id.
BY_USER = Keyset("members", (("user_id", 1), ("_id", 1)))


class Granted(NamedTuple):
    """What granting a role did: ``changed`` is False when the user already held it; ``previous``
    is the role it replaced (None for a new member)."""

    changed: bool
    previous: str | None


def _key(project: str, user_id: str) -> str:
    return f"{project}:{user_id}"


class MembershipRepository:
    """Who holds which role in which project."""

    def __init__(self, store: DocumentStore) -> None:
        self._members = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._members.create_index([("user_id", 1)])
        await self._members.create_index([("project", 1), ("user_id", 1)])

    async def grant(self, project: str, user_id: str, role: str, *, by: str, at: datetime) -> Granted:
        """Give the user ``role`` in ``project``, replacing the role they held there."""
        key = _key(project, user_id)
        change = {"role": role, "granted_by": by, "granted_at": at}
        before = await self._members.find_one_and_update({"_id": key, "role": {"$ne": role}}, {"$set": change},
                                                         return_new=False)
        if before is not None:
            return Granted(True, before["role"])
        try:
            await self._members.insert_one({"_id": key, "project": project, "user_id": user_id, **change})
        except Conflict:
            return Granted(False, role)  # it already holds this role
        return Granted(True, None)

    async def remove(self, project: str, user_id: str) -> bool:
        """Take the user's role in ``project`` away; ``False`` when they had none."""
        return await self._members.delete_one({"_id": _key(project, user_id)}) > 0

    async def get(self, project: str, user_id: str) -> Document | None:
        return await self._members.find_one({"_id": _key(project, user_id)})

    async def roles_of(self, user_id: str) -> dict[str, str]:
        """Every project the user has a role in, with the role."""
        docs = await self._members.find_list({"user_id": user_id}, projection={"project": 1, "role": 1})
        return {doc["project"]: doc["role"] for doc in docs}

    async def roles_of_users(self, user_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """For each of ``user_ids`` holding a role somewhere: project → role, in one query (a page
        of users shows everyone's roles without one read per user)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        docs = await self._members.find_list({"user_id": {"$in": ids}},
                                             projection={"project": 1, "role": 1, "user_id": 1})
        found: dict[str, dict[str, str]] = {}
        for doc in docs:
            found.setdefault(doc["user_id"], {})[doc["project"]] = doc["role"]
        return found

    async def projects(self) -> list[str]:
        """Every project someone holds a role in, by name."""
        # distinct: MongoDB answers it from the (project, user_id) index instead of sending every membership.
        return sorted(await self._members.distinct("project"))

    async def of_project(self, project: str) -> list[Document]:
        """The project's members, by user id."""
        return await self._members.find_list({"project": project}, sort=[("user_id", 1)])

    async def page(self, project: str, *, limit: int, cursor: str | None) -> Page:
        """One page of the project's members, by user id."""
        return await page(self._members, {"project": project}, BY_USER, limit=limit, cursor=cursor)
