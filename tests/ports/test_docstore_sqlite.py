"""The document-store conformance suite on the embedded SQLite store, plus what only it has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakecache.core.adapters.docs.sqlite import SqliteDocumentStore
from lakecache.core.adapters.registry import document_store_from_url
from lakecache.core.errors import ConfigurationError

from .docstore_suite import DocumentStoreConformance


class TestSqliteDocumentStore(DocumentStoreConformance):
    @pytest.fixture
    async def store(self, tmp_path):
        # A small batch size makes every multi-batch code path run in the suite.
        async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/docs.db", batch_size=7) as store:
            yield store


def test_registry_builds_the_sqlite_store_without_io(tmp_path):
    store = document_store_from_url(f"sqlite://{tmp_path}/never/created.db")
    assert isinstance(store, SqliteDocumentStore)
    assert store.path == f"{tmp_path}/never/created.db"
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("url", ["sqlite://host/x.db", "sqlite:///x.db?mode=ro", "sqlite:relative.db"])
def test_malformed_urls_are_configuration_errors(url):
    with pytest.raises(ConfigurationError):
        SqliteDocumentStore.from_url(url)


def test_unknown_option_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="busy_timeout"):
        SqliteDocumentStore.from_url("sqlite:///:memory:", timeout=3)


async def test_missing_directory_is_reported_with_the_path(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/no/such/dir.db"):
            pass


async def test_in_memory_store_works():
    async with SqliteDocumentStore.from_url("sqlite:///:memory:") as store:
        coll = store.collection("things")
        await coll.insert_one({"_id": "a"})
        assert await coll.count_documents() == 1


async def test_equality_on_an_indexed_scalar_field_uses_the_index(tmp_path):
    async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/docs.db") as store:
        datasets = store.collection("datasets")
        await datasets.create_index([("name", 1)], unique=True)
        await datasets.insert_many([{"name": f"ds{i}", "tags": ["a"]} for i in range(50)])
        plan = " ".join(await datasets.explain({"name": "ds7"}))
        assert "USING INDEX" in plan, plan
        # A path that has held arrays needs the json_each branch, which scans.
        plan = " ".join(await datasets.explain({"tags": "a"}))
        assert "SCAN" in plan, plan


async def test_documents_written_by_another_connection_are_found_by_array_rules(tmp_path):
    url = f"sqlite://{tmp_path}/shared.db"
    async with SqliteDocumentStore.from_url(url) as first, SqliteDocumentStore.from_url(url) as second:
        await first.collection("c").insert_one({"_id": "1", "tags": "x"})
        assert await second.collection("c").count_documents({"tags": "x"}) == 1
        # The second store learned "tags" holds no arrays; the first now writes one.
        await first.collection("c").insert_one({"_id": "2", "tags": ["y", "x"]})
        assert await second.collection("c").count_documents({"tags": "x"}) == 2


async def test_operations_before_open_fail_clearly(tmp_path):
    store = SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/d.db")
    with pytest.raises(RuntimeError, match="async with"):
        await store.collection("c").insert_one({})


async def test_a_long_find_leaves_out_documents_that_stopped_matching_while_it_ran(tmp_path):
    # find() takes the matching ids first, then fetches them a batch at a time by primary key
    # and checks the filter again on what it fetched.
    async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/docs.db", batch_size=2) as store:
        runs = store.collection("runs")
        await runs.create_index([("kind", 1), ("n", 1)])
        await runs.insert_many([{"_id": f"r{n}", "kind": "a", "n": n} for n in range(6)])
        seen = []
        async for document in runs.find({"kind": "a"}, sort=[("n", 1)]):
            seen.append(document["_id"])
            if document["_id"] == "r1":
                await runs.update_one({"_id": "r4"}, {"$set": {"kind": "b"}})
                await runs.delete_one({"_id": "r5"})
        assert seen == ["r0", "r1", "r2", "r3"]


async def test_a_sort_on_an_indexed_datetime_walks_the_index_instead_of_sorting(tmp_path):
    # Filters compare json_extract(...) and a sort orders a datetime by its number: each index
    # has a twin on the sort's expressions, so a sorted page does not sort the whole collection.
    async with SqliteDocumentStore.from_url(f"sqlite://{tmp_path}/docs.db") as store:
        audit = store.collection("audit")
        await audit.create_index([("at", -1), ("_id", 1)])
        start = datetime(2026, 1, 1, tzinfo=UTC)
        await audit.insert_many([{"_id": f"r{i:03}", "at": start + timedelta(minutes=i % 7)} for i in range(60)])
        newest_first = [("at", -1), ("_id", 1)]
        plan = " ".join(await audit.explain(None, sort=newest_first))
        assert "TEMP B-TREE" not in plan and "USING INDEX" in plan, plan
        found = [d["_id"] async for d in audit.find({}, sort=newest_first, limit=5)]
        expected = sorted(range(60), key=lambda i: (-(i % 7), f"r{i:03}"))[:5]
        assert found == [f"r{i:03}" for i in expected]
        # An index made before the twins existed gets its twin when it is declared again.
        await store.collection("old").create_index([("at", 1)])
        await store.call(lambda: store.conn.execute('DROP INDEX "old/at_1/sort"'))
        await store.collection("old").create_index([("at", 1)])
        await store.collection("old").insert_one({"_id": "x", "at": start})
        assert "USING INDEX old/at_1/sort" in " ".join(await store.collection("old").explain(None, sort=[("at", 1)]))
