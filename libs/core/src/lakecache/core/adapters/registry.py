"""One place that maps URL schemes to adapters, so services never branch on technology.

Adapters are imported lazily: a service installs only the extras it needs (the evictor has
no pymongo), and importing this module performs no I/O. Constructing an adapter opens
nothing (the local lake only looks for an enclosing lake directory); connections open in
``async with adapter:``.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from lakecache.core.errors import ConfigurationError

# scheme -> "module:Class"; each class offers ``from_url(url, **options)``.
BUS_ADAPTERS = {
    "memory": "lakecache.core.adapters.bus.memory:InMemoryEventBus",
    "kafka": "lakecache.core.adapters.bus.kafka:KafkaEventBus",
}
OBJECT_STORE_ADAPTERS = {
    "file": "lakecache.core.adapters.objects.local:LocalObjectStore",
    "s3": "lakecache.core.adapters.objects.s3:S3ObjectStore",
}
DOCUMENT_STORE_ADAPTERS = {
    "sqlite": "lakecache.core.adapters.docs.sqlite:SqliteDocumentStore",
    "mongodb": "lakecache.core.adapters.docs.mongo:MongoDocumentStore",
}
# Buses other processes share (a service alone on one of the others reaches no one), and the
# ones a stream processor (Faust) can run on.
SHARED_BUSES = frozenset({"kafka"})
STREAM_PROCESSING_BUSES = frozenset({"kafka"})
# scheme -> "module:function(telemetry)" instrumenting the client library of that store.
DOCUMENT_STORE_INSTRUMENTATION = {"mongodb": "lakecache.core.telemetry.setup:instrument_pymongo"}


def _load(table: dict[str, str], kind: str, url: str, options: dict[str, Any]) -> Any:
    scheme = urlsplit(url).scheme
    target = table.get(scheme)
    if target is None:
        accepted = ", ".join(f"{s}://" for s in table)
        raise ConfigurationError(
            f"unsupported {kind} URL {url!r}: the scheme must be one of {accepted}"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # an optional extra is missing
        if (exc.name or "").startswith("lakecache."):
            raise
        raise ConfigurationError(
            f"the {kind} adapter for {scheme}:// needs a package that is not installed "
            f"({exc.name}); install lakecache-core with the matching extra"
        ) from exc
    return getattr(module, class_name).from_url(url, **options)


def event_bus_from_url(url: str, **options: Any):
    """Return an (unopened) event bus for ``memory://`` or ``kafka://host:port[,host:port]``."""
    return _load(BUS_ADAPTERS, "event bus", url, options)


def object_store_from_url(url: str, **options: Any):
    """Return an (unopened) object store for ``file:///dir`` or ``s3://bucket[/prefix]``."""
    return _load(OBJECT_STORE_ADAPTERS, "object store", url, options)


def document_store_from_url(url: str, **options: Any):
    """Return an (unopened) document store for ``sqlite:///path.db`` or ``mongodb://…``."""
    return _load(DOCUMENT_STORE_ADAPTERS, "document store", url, options)


def bus_is_shared(url: str) -> bool:
    """Whether the bus at ``url`` connects processes (the in-memory bus reaches one process only)."""
    return urlsplit(url).scheme in SHARED_BUSES


def bus_runs_stream_processors(url: str) -> bool:
    """Whether a stream processor (Faust: tables, timers, partitions) can run on the bus at ``url``."""
    return urlsplit(url).scheme in STREAM_PROCESSING_BUSES


def instrument_document_store(url: str, telemetry: Any) -> None:
    """Trace the client library of the document store at ``url``, if it has an instrumentation."""
    target = DOCUMENT_STORE_INSTRUMENTATION.get(urlsplit(url).scheme)
    if target is not None:
        module_name, _, function = target.partition(":")
        getattr(importlib.import_module(module_name), function)(telemetry)
