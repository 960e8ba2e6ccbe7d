"""The three test servers by name, with timed prepare and the missing-server rule."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from . import kafka_server, mongo_server, s3_server
from .proc import ManagedServer, ServerError

# name -> (prepare function, server class)
SERVERS: dict[str, tuple[Callable[[], str], type[ManagedServer]]] = {
    "kafka": (kafka_server.prepare, kafka_server.KafkaServer),
    "s3": (s3_server.prepare, s3_server.S3Server),
    "mongo": (mongo_server.prepare, mongo_server.MongoServer),
}


def names(arg: str) -> list[str]:
    if arg == "all":
        return list(SERVERS)
    if arg not in SERVERS:
        raise ServerError(f"unknown server {arg!r}; choose from {', '.join(SERVERS)} or all")
    return [arg]


def prepare(name: str) -> tuple[str, float]:
    """Build or fetch one server into the cache; returns (what was done, seconds)."""
    start = time.monotonic()
    try:
        message = SERVERS[name][0]()
    except OSError as exc:  # e.g. a cache directory that cannot be created
        raise ServerError(f"{name}: preparing failed: {exc}") from exc
    return message, time.monotonic() - start


def start(name: str, run_root: Path) -> ManagedServer:
    """Prepare (cached) and start one server in run_root/<name>; raises ServerError."""
    prepare(name)
    server = SERVERS[name][1](run_root / name)
    server.start()
    return server


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable_message(name: str, exc: BaseException) -> str:
    return (f"{name} test server unavailable: {exc}\n"
            f"To build it: python -m tests.servers prepare {name}  "
            f"(cache: $LAKECACHE_TEST_CACHE or ~/.cache/lakecache-test)")
