"""The cacher on production adapters: a command on Kafka, a lake on S3 (versitygw), copies in MongoDB (FerretDB)."""

from __future__ import annotations

import os
import uuid

import pytest

from lakecache.cacher.bootstrap import SERVICE
from lakecache.core.contracts.cache import CacheReady
from lakecache.core.runtime import runner
from tests.cacher.helpers import tree_of
from tests.cacher.service.conftest import copy_path, running_cacher
from tests.support.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.s3, pytest.mark.mongo]

FILES = {"train/a.bin": os.urandom(70_000), "train/b.txt": b"b" * 500}


async def test_request_to_ready_on_kafka_s3_and_mongo(tmp_path, volume, kafka_server, s3_server, mongo_server,
                                                      monkeypatch):
    bucket = await s3_server.new_bucket("cacher")
    # PyMongo's command listener is process-global: leave it to the tracing test in tests/ports.
    monkeypatch.setattr(runner, "instrument_document_store", lambda url, telemetry: None)
    database = f"cacher_{uuid.uuid4().hex[:8]}"
    site = f"s{uuid.uuid4().hex[:8]}"
    settings = SERVICE.settings_type(
        home=tmp_path / "home", bus_url=kafka_server.url, lake_url=f"s3://{bucket}", **s3_server.lake_settings(),
        cacher={"port": 0, "site": site, "volumes": [{"name": "nfs1", "path": str(volume)}],
                "store_url": mongo_server.url.replace("/?", f"/{database}?", 1)},
    )
    async with running_cacher(settings) as api:
        commit = await api.commit(FILES, options=settings.lake_options_for(f"s3://{bucket}"))
        rid = await api.request(commit, site=site)
        await eventually(lambda: api.of(CacheReady, rid), timeout=60, message="cache.ready over Kafka")
        ready = api.of(CacheReady, rid)[0].data
        assert ready.bytes_fetched == sum(len(d) for d in FILES.values())
        assert tree_of(volume / "team" / "ds" / commit) == FILES
        copy = (await api.call("GET", copy_path(commit, site=site))).body
        assert copy["state"] == "ready" and copy["path"] == ready.path
