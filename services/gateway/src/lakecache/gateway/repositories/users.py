"""The ``users`` collection: ``_id`` a generated id, a unique ``name``, ``global_admin``,
``disabled``, ``created_at``, ``created_by``. Users are never deleted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "users"
#: ``GET /users``: by name.
BY_NAME = Keyset("users", (("name", 1), ("_id", 1)))

Flag = Literal["global_admin", "disabled"]


class UserRepository:
    """People and service accounts, by id or name."""

    def __init__(self, store: DocumentStore) -> None:
        self._users = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._users.create_index([("name", 1)], unique=True)
        await self._users.create_index([("global_admin", 1), ("disabled", 1)])

    async def add(self, user: Mapping[str, Any]) -> None:
        """Store a new user; the store's ``Conflict`` when its name (or id) is taken."""
        await self._users.insert_one(user)

    async def get(self, user_id: str) -> Document | None:
        return await self._users.find_one({"_id": user_id})

    async def by_name(self, name: str) -> Document | None:
        return await self._users.find_one({"name": name})

    async def page(self, *, limit: int, cursor: str | None) -> Page:
        """One page of users by name (:data:`BY_NAME`)."""
        return await page(self._users, {}, BY_NAME, limit=limit, cursor=cursor)

    async def names_of(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names of the users among ``user_ids`` that exist, by id."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        docs = await self._users.find_list({"_id": {"$in": ids}}, projection={"name": 1})
        return {doc["_id"]: doc["name"] for doc in docs}

    async def count_active_admins(self, *, besides: str | None = None) -> int:
        """How many enabled installation administrators there are, not counting user ``besides``."""
        query: dict[str, Any] = {"global_admin": True, "disabled": False}
        if besides is not None:
            query["_id"] = {"$ne": besides}
        return await self._users.count_documents(query)

    async def set_flag(self, user_id: str, flag: Flag, value: bool) -> bool:
        """Set ``flag`` to ``value`` if it is the opposite now; ``False`` when it already was ``value``
        (e.g. a concurrent call made the same change first)."""
        result = await self._users.update_one({"_id": user_id, flag: not value}, {"$set": {flag: value}})
        return result.modified > 0
