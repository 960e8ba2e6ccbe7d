"""The ``tokens`` collection: ``_id`` the token id (not secret), the SHA-256 ``hash`` of the token
(never the token; unique), ``kind`` (``user`` or ``job``), ``name``, ``user_id`` (the owner of a
user token, the issuer of a job token), ``project`` and ``run_id`` (job tokens), ``created_at``,
``created_by``, ``expires_at``, ``revoked`` with ``revoked_at`` and ``revoked_by``; a browser
session (``lakecache.gateway.auth.sessions``) is a user token with ``session: true`` and the
``parent_id`` of the token it was opened with.

Nothing read from here carries the hash except the lookup by it (:meth:`TokenRepository.by_hash`
leaves it out too): listings never hold a secret's digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "tokens"
#: A user's tokens: newest first.
NEWEST_FIRST = Keyset("tokens", (("created_at", -1), ("_id", 1)))
_NO_HASH = {"hash": 0}


class TokenRepository:
    """API tokens, found by hash, owner or run; revoked, never deleted."""

    def __init__(self, store: DocumentStore) -> None:
        self._tokens = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._tokens.create_index([("hash", 1)], unique=True)
        await self._tokens.create_index([("user_id", 1), ("created_at", -1)])
        await self._tokens.create_index([("run_id", 1)])

    async def add(self, token: Mapping[str, Any]) -> None:
        await self._tokens.insert_one(token)

    async def by_hash(self, digest: str) -> Document | None:
        """The token whose SHA-256 is ``digest`` (without the hash), revoked and expired ones included."""
        return await self._tokens.find_one({"hash": digest}, projection=_NO_HASH)

    async def get(self, token_id: str) -> Document | None:
        """Token ``token_id`` (without the hash)."""
        return await self._tokens.find_one({"_id": token_id}, projection=_NO_HASH)

    async def exists(self, token_id: str, *, owner: str | None = None) -> bool:
        """Whether token ``token_id`` exists (and names ``owner`` as its ``user_id``, when given)."""
        return await self._tokens.count_documents(_one(token_id, owner)) > 0

    async def revoke(self, token_id: str, *, owner: str | None = None, at: datetime, by: str) -> Document | None:
        """Revoke the live token ``token_id`` (of ``owner``, when given); the revoked token, or None
        when no live one matched (revoked already, or none)."""
        return await self._tokens.find_one_and_update(
            {**_one(token_id, owner), "revoked": False},
            {"$set": {"revoked": True, "revoked_at": at, "revoked_by": by}}, projection=_NO_HASH)

    async def revoke_all_of(self, user_id: str, *, at: datetime, by: str) -> int:
        """Revoke every live token naming ``user_id`` (owned or issued); how many."""
        result = await self._tokens.update_many({"user_id": user_id, "revoked": False}, {"$set": {
            "revoked": True, "revoked_at": at, "revoked_by": by}})
        return result.modified

    async def live_ids_of_run(self, run_id: str) -> list[str]:
        """The ids of run ``run_id``'s live job tokens."""
        docs = await self._tokens.find_list({"run_id": run_id, "revoked": False}, projection={"_id": 1})
        return [doc["_id"] for doc in docs]

    async def listing(self, *, user_id: str | None = None, run_id: str | None = None,
                      include_revoked: bool = False) -> list[Document]:
        """Tokens newest first (without hashes), of one user (owned or issued) and/or one run."""
        return await self._tokens.find_list(_matching(user_id, run_id, include_revoked), sort=list(NEWEST_FIRST.sort),
                                            projection=_NO_HASH)

    async def page(self, *, user_id: str, include_revoked: bool, limit: int, cursor: str | None) -> Page:
        """One page of a user's tokens (owned or issued), newest first, without hashes."""
        return await page(self._tokens, _matching(user_id, None, include_revoked), NEWEST_FIRST, limit=limit,
                          cursor=cursor, projection=_NO_HASH)


def _one(token_id: str, owner: str | None) -> dict[str, Any]:
    return {"_id": token_id} if owner is None else {"_id": token_id, "user_id": owner}


def _matching(user_id: str | None, run_id: str | None, include_revoked: bool) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if user_id is not None:
        query["user_id"] = user_id
    if run_id is not None:
        query["run_id"] = run_id
    if not include_revoked:
        query["revoked"] = False
    return query
