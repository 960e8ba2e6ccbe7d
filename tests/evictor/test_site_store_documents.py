"""The site-store conformance suite on the document-store adapter (the embedded runtime's), on
SQLite and on MongoDB (FerretDB), plus reading states saved by earlier versions."""

from __future__ import annotations

import uuid

import pytest

from lakecache.core.adapters.docs.mongo import MongoDocumentStore
from lakecache.core.adapters.docs.sqlite import SqliteDocumentStore
from lakecache.evictor.policy import SiteState
from lakecache.evictor.repositories import DocumentSiteStore
from lakecache.evictor.repositories.sites import COLLECTION

from .site_store_suite import SiteStoreConformance, SiteStoreDurability, lived_state


class Reopenable:
    """A document store that a test can close and open again over the same data."""

    def __init__(self, open_store) -> None:
        self._open = open_store
        self.docs = None

    async def open(self) -> DocumentSiteStore:
        self.docs = await self._open().__aenter__()
        return DocumentSiteStore(self.docs)

    async def reopen(self) -> DocumentSiteStore:
        await self.close()
        return await self.open()

    async def close(self) -> None:
        if self.docs is not None:
            docs, self.docs = self.docs, None
            await docs.__aexit__(None, None, None)


class TestSqliteSiteStore(SiteStoreConformance, SiteStoreDurability):
    @pytest.fixture
    async def backing(self, tmp_path):
        backing = Reopenable(lambda: SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/evictor.db"))
        yield backing
        await backing.close()

    @pytest.fixture
    async def store(self, backing):
        return await backing.open()

    @pytest.fixture
    def reopen(self, backing):
        return backing.reopen


@pytest.mark.mongo
class TestMongoSiteStore(SiteStoreConformance, SiteStoreDurability):
    @pytest.fixture
    async def backing(self, mongo_server):
        from pymongo import MongoClient

        database = "lc_evictor_sites_" + uuid.uuid4().hex[:10]
        backing = Reopenable(lambda: MongoDocumentStore.from_url(mongo_server.url, database=database))
        yield backing
        await backing.close()
        with MongoClient(mongo_server.url, serverSelectionTimeoutMS=5000) as client:
            client.drop_database(database)

    @pytest.fixture
    async def store(self, backing):
        return await backing.open()

    @pytest.fixture
    def reopen(self, backing):
        return backing.reopen


async def test_a_state_saved_as_a_nested_document_by_an_earlier_version_is_read_and_rewritten(tmp_path):
    saved = lived_state("dgx")
    del saved["dataset_ttls"]  # such a state could hold no key with a dot or a leading $
    async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/evictor.db") as docs:
        await docs.collection(COLLECTION).insert_one({"_id": "dgx", "state": saved})
        store = DocumentSiteStore(docs)
        assert await store.sites() == ["dgx"]
        loaded = await store.load("dgx")
        assert SiteState.from_dict(loaded) == SiteState.from_dict(saved)

        changed = {**loaded, "dataset_ttls": {"ds.v1": {"ttl_seconds": 60, "at": "2025-03-01T00:00:00Z"}}}
        await store.save("dgx", changed)
        assert await store.load("dgx") == changed
        assert set(await docs.collection(COLLECTION).find_one({"_id": "dgx"})) == {"_id", "state_json"}
