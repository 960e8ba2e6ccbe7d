"""The document-store conformance suite on the MongoDB adapter, against FerretDB v1.24.2."""

from __future__ import annotations

import uuid

import pytest

from lakecache.core.adapters.docs.mongo import MongoDocumentStore
from lakecache.core.adapters.registry import document_store_from_url
from lakecache.core.errors import ConfigurationError

from .docstore_suite import DocumentStoreConformance

pytestmark = pytest.mark.mongo


@pytest.fixture(scope="module")
def database(mongo_server):
    """A database of this module's own, dropped afterwards."""
    from pymongo import MongoClient

    name = "lc_docstore_" + uuid.uuid4().hex[:10]
    yield name
    with MongoClient(mongo_server.url, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


class TestMongoDocumentStore(DocumentStoreConformance):
    @pytest.fixture
    async def store(self, mongo_server, database):
        async with MongoDocumentStore.from_url(mongo_server.url, database=database) as store:
            yield store


def test_registry_builds_the_mongo_store_without_io():
    store = document_store_from_url("mongodb://127.0.0.1:1/meta?directConnection=true")
    assert isinstance(store, MongoDocumentStore)
    assert store.database_name == "meta"
    assert MongoDocumentStore.from_url("mongodb://127.0.0.1:1").database_name == "lakecache"
    assert MongoDocumentStore.from_url("mongodb://h/x", database="y").database_name == "y"


@pytest.mark.parametrize("url", ["mongodb:///nohost", "http://h/db", "mongodb://h/bad.name"])
def test_malformed_urls_are_configuration_errors(url):
    with pytest.raises(ConfigurationError):
        MongoDocumentStore.from_url(url)


async def test_mongo_commands_are_traced_by_the_contrib_pymongo_instrumentation(mongo_server, database):
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from lakecache.core.telemetry import configure_telemetry
    from lakecache.core.telemetry.setup import instrument_pymongo

    exporter = InMemorySpanExporter()
    telemetry = configure_telemetry("tracker", extra_processors=(SimpleSpanProcessor(exporter),))
    instrumentor = PymongoInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrument_pymongo(telemetry)
    try:
        async with MongoDocumentStore.from_url(mongo_server.url, database=database) as store:
            await store.collection("traced").insert_one({"_id": "r1", "status": "running"})
            assert (await store.collection("traced").find_one({"_id": "r1"}))["status"] == "running"
    finally:
        instrumentor.uninstrument()
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    names = {s.name for s in spans}
    assert any("insert" in name for name in names), names
    assert any("find" in name for name in names), names
    assert all(s.resource.attributes["service.name"] == "lakecache-tracker" for s in spans)
    assert any(s.attributes.get("db.system") == "mongodb" or s.attributes.get("db.system.name") == "mongodb"
               for s in spans)
