"""The catalog on production adapters: Kafka, S3 (versitygw) and MongoDB (FerretDB)."""

from __future__ import annotations

import uuid

import pytest

from lakecache.catalog.api import ROUTES
from lakecache.catalog.bootstrap import SERVICE
from lakecache.core.contracts.cache import CacheEvicted, CacheReady
from lakecache.core.layout import manifest_key
from lakecache.core.runtime import runner, start_service
from tests.catalog.conftest import CatalogClient, entry
from tests.support.identity import internal_session
from tests.support.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.s3, pytest.mark.mongo]


def _manifest_puts(s3_server, bucket: str) -> int:
    lines = s3_server.access_log.read_text(errors="replace").splitlines()
    target = f"/{bucket}/vision/cats/_lakecache/manifests/"
    return sum(1 for line in lines if " s3_PutObject " in line and target in line)


async def test_create_commit_list_and_delete_on_kafka_s3_and_mongo(tmp_path, kafka_server, s3_server, mongo_server,
                                                                   monkeypatch):
    bucket = await s3_server.new_bucket("catalog")
    database = f"catalog_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LAKECACHE_CATALOG__PORT", "0")
    # PyMongo's command listener is process-global and binds the first tracer provider for
    # good; leave it to the tracing test in tests/ports instead of claiming it here.
    monkeypatch.setattr(runner, "instrument_document_store", lambda url, telemetry: None)
    settings = SERVICE.settings_type(
        home=tmp_path, bus_url=kafka_server.url, lake_url=f"s3://{bucket}", **s3_server.lake_settings(),
        catalog={"port": 0, "store_url": mongo_server.url.replace("/?", f"/{database}?", 1)},
    )
    async with start_service(SERVICE, settings) as running, \
            internal_session(tmp_path, "catalog", ROUTES) as session:
        api = CatalogClient(running, session)
        dataset = await api.create("vision", "cats")
        assert dataset["lake_url"] == f"s3://{bucket}/vision/cats"
        files = [entry(f"train/{i:03d}.jpg", f"image {i}") for i in range(50)]
        commit = await api.committed("vision", "cats", files)
        assert await running.resources.lake.exists(f"vision/cats/{manifest_key(commit)}")
        assert _manifest_puts(s3_server, bucket) == 1
        unchanged = await api.commit("vision", "cats", files)
        assert unchanged.status == 200 and unchanged.body["unchanged"] is True
        assert _manifest_puts(s3_server, bucket) == 1

        listed = await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries",
                                params={"prefix": "train/", "limit": 20, "start_after": "train/009.jpg"})
        assert [e["path"] for e in listed.body["items"]] == [f"train/{i:03d}.jpg" for i in range(10, 30)]
        assert listed.body["next_cursor"] == "train/029.jpg"

        publisher = running.resources.publisher
        await publisher.emit(CacheReady(
            fill_id="f-1", project="vision", dataset_id=dataset["id"], commit_id=commit, site="dgx", volume="nfs1",
            path="/mnt/nfs1/x", files=50, size_bytes=1, bytes_fetched=1, bytes_deduplicated=0, duration_seconds=1))
        await eventually(lambda: api.stored("copies").count_documents({"dataset_id": dataset["id"]}),
                         message="copy recorded from Kafka")
        assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 409
        await publisher.emit(CacheEvicted(decision_id="d-1", site="dgx", volume="nfs1", commit_id=commit,
                                          dataset_id=dataset["id"], reason="manual", bytes_freed=1))

        async def evicted():
            return await api.stored("copies").count_documents({"dataset_id": dataset["id"]}) == 0

        await eventually(evicted, message="copy removed from Kafka")
        assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 204
        assert (await api.call("GET", "/api/v1/datasets/vision/cats")).status == 404
