"""The site's registered volumes.

Collection ``volumes``, ``_id`` ``<site>/<name>``: the ``VolumeSetting`` fields (``name``,
``path``, ``capacity_bytes``, ``ttl_seconds``, watermarks), ``site``, ``refused`` (why the
volume rules refuse it now, or null), ``quotas`` (project → the bytes it may be charged there,
ADR 0018; absent until one is set) and ``created_at``.
"""

from __future__ import annotations

from typing import Any

from lakecache.cacher.settings import VolumeSetting
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "volumes"
Doc = dict[str, Any]


class VolumeRepository:
    """The volumes of one site."""

    def __init__(self, store: DocumentStore, site: str) -> None:
        self._volumes = store.collection(COLLECTION)
        self.site = site

    def _id(self, name: str) -> str:
        return f"{self.site}/{name}"

    async def create_indexes(self) -> None:
        await self._volumes.create_index([("site", 1), ("name", 1)], unique=True)

    async def get(self, name: str) -> Doc | None:
        return await self._volumes.find_one({"_id": self._id(name)})

    async def all(self) -> list[Doc]:
        """The site's volumes by name."""
        return await self._volumes.find_list({"site": self.site}, sort=[("name", 1)])

    async def add(self, spec: VolumeSetting) -> Doc:
        """Register a volume; the store's ``Conflict`` when the name is taken."""
        doc = {"_id": self._id(spec.name), "site": self.site, **spec.model_dump(), "refused": None,
               "created_at": now()}
        await self._volumes.insert_one(doc)
        return doc

    async def declare(self, spec: VolumeSetting) -> None:
        """Register or update a volume of the settings (they win over an earlier registration)."""
        await self._volumes.update_one(
            {"_id": self._id(spec.name)},
            {"$set": {"site": self.site, **spec.model_dump(), "refused": None}, "$setOnInsert": {"created_at": now()}},
            upsert=True)

    async def remove(self, name: str) -> bool:
        """Forget volume ``name``; False when it was not registered."""
        return await self._volumes.delete_one({"_id": self._id(name)}) > 0

    async def set_quota(self, name: str, project: str, quota_bytes: int | None) -> Doc | None:
        """Set ``project``'s quota on volume ``name`` (None removes it); the volume after the
        change, or None when it is not registered. Settings declarations leave quotas alone."""
        key = f"quotas.{project}"
        update = {"$set": {key: quota_bytes}} if quota_bytes is not None else {"$unset": {key: ""}}
        if (await self._volumes.update_one({"_id": self._id(name)}, update)).matched == 0:
            return None
        return await self.get(name)

    async def set_refused(self, name: str, reason: str | None) -> None:
        """Why the volume rules refuse volume ``name`` now (None: it is accepted)."""
        await self._volumes.update_one({"_id": self._id(name)}, {"$set": {"refused": reason}})
