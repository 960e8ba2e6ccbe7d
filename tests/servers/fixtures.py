"""pytest plugin: session-scoped test servers, started lazily on first request.

Enable with `pytest_plugins = ["tests.servers.fixtures"]` in tests/conftest.py.
A server that cannot be prepared or started fails the test when CI=true and skips it
otherwise, always with the reason, the log tail and the command that builds it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .proc import ManagedServer, ServerError
from .registry import in_ci, start, unavailable_message


def start_or_report(name: str, run_root: Path) -> ManagedServer:
    """Start a server, or fail (CI) / skip (elsewhere) the requesting test with a clear reason."""
    try:
        return start(name, run_root)
    except ServerError as exc:
        message = unavailable_message(name, exc)
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def servers_run_root() -> Iterator[Path]:
    """One temp directory per session for the servers' data and logs, removed at the end
    (set LAKECACHE_KEEP_SERVER_DIRS=1 to keep it for inspection)."""
    root = Path(tempfile.mkdtemp(prefix="lakecache-servers-"))
    yield root
    if not os.environ.get("LAKECACHE_KEEP_SERVER_DIRS"):
        shutil.rmtree(root, ignore_errors=True)


def _serve(name: str, run_root: Path) -> Iterator[ManagedServer]:
    server = start_or_report(name, run_root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_server(servers_run_root: Path) -> Iterator[ManagedServer]:
    """Kafka 4.1.1 broker: .bootstrap, .url, .restart(), .stop()."""
    yield from _serve("kafka", servers_run_root)


@pytest.fixture(scope="session")
def s3_server(servers_run_root: Path) -> Iterator[ManagedServer]:
    """versitygw: .endpoint_url, .access_key, .secret_key, .region, .root."""
    yield from _serve("s3", servers_run_root)


@pytest.fixture(scope="session")
def mongo_server(servers_run_root: Path) -> Iterator[ManagedServer]:
    """FerretDB on SQLite: .url (mongodb://127.0.0.1:PORT/?directConnection=true)."""
    yield from _serve("mongo", servers_run_root)
