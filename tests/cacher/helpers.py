"""Commits written straight into a lake with the core helpers, and store wrappers for tests."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import Unavailable
from lakecache.core.layout import content_key
from lakecache.core.manifest import ManifestBuilder, ManifestEntry


async def make_commit(lake_url: str, files: dict[str, bytes], options: dict | None = None) -> tuple[str, bytes]:
    """Upload ``files``' contents to the lake and return ``(commit id, gzip manifest)``."""
    entries = []
    async with object_store_from_url(lake_url, **(options or {})) as store:
        for path, data in files.items():
            sha = hashlib.sha256(data).hexdigest()
            info = await store.put(content_key(sha), data)
            entries.append(ManifestEntry(path=path, size=len(data), sha256=sha, etag=info.etag))
    with ManifestBuilder() as builder:
        for entry in entries:
            builder.add(entry)
        built = builder.build()
        return built.commit_id, built.path.read_bytes()


def build_manifest(entries: list[ManifestEntry], parents: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """``(commit id, gzip manifest)`` of ``entries`` as given (``object`` URLs included): the commit
    an editor could make, whatever its entries point at."""
    with ManifestBuilder() as builder:
        for entry in entries:
            builder.add(entry)
        built = builder.build(parents)
        return built.commit_id, built.path.read_bytes()


def entry_of(path: str, data: bytes, *, object_url: str | None = None) -> ManifestEntry:
    return ManifestEntry(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(), object=object_url)


def raw_manifest(entries: list[dict]) -> bytes:
    """A manifest written as given (no sorting, no path checks): what a hostile lake could hold."""
    return gzip.compress(b"".join(json.dumps(e).encode() + b"\n" for e in entries))


async def chunks(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def tree_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def all_files(root: Path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


class WrappedStore:
    """A test double around a real store that counts GETs per key and can inject faults.

    ``fail_first`` keys raise ``Unavailable`` on their first GET (a fault-injection stand-in
    for a 503 or a connection reset); ``truncate_first`` keys end their first GET after one
    short chunk (a truncated body); ``delay`` slows every GET down (to cancel a fill midway).
    """

    def __init__(self, store, *, fail_first=(), truncate_first=(), delay: float = 0.0) -> None:
        self._store = store
        self.fail_first, self.truncate_first = set(fail_first), set(truncate_first)
        self.delay = delay
        self.gets: dict[str, int] = {}

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def __aenter__(self):
        await self._store.__aenter__()
        return self

    async def __aexit__(self, *exc_info):
        await self._store.__aexit__(*exc_info)

    def get(self, key, **options):
        self.gets[key] = self.gets.get(key, 0) + 1
        return _Reader(self, key, self.gets[key], self._store.get(key, **options))

    async def read_into(self, key, sink, **options):
        """The fill's path: the real store's ``read_into`` (on S3, its native client), with
        the same counting and faults as ``get``."""
        self.gets[key] = attempt = self.gets.get(key, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if attempt == 1 and key in self.fail_first:
            raise Unavailable(f"get {key}: injected 503 SlowDown; retry later")
        if attempt == 1 and key in self.truncate_first:
            kept = 0

            def first_half_of_the_first_chunk(chunk, offset):
                nonlocal kept
                if offset == 0:
                    kept = len(chunk) // 2
                    sink(chunk[:kept], 0)

            await self._store.read_into(key, first_half_of_the_first_chunk, **options)
            return kept
        return await self._store.read_into(key, sink, **options)


class _Reader:
    def __init__(self, owner: WrappedStore, key: str, attempt: int, inner) -> None:
        self._owner, self._key, self._attempt, self._inner = owner, key, attempt, inner

    async def __aenter__(self):
        if self._owner.delay:
            await asyncio.sleep(self._owner.delay)
        if self._attempt == 1 and self._key in self._owner.fail_first:
            raise Unavailable(f"get {self._key}: injected 503 SlowDown; retry later")
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info):
        await self._inner.__aexit__(*exc_info)

    async def _chunks(self):
        async for chunk in self._inner:
            if self._attempt == 1 and self._key in self._owner.truncate_first:
                yield chunk[: len(chunk) // 2]
                return
            yield chunk

    def __aiter__(self):
        return self._chunks()


def mount_tmpfs(target: Path, options: str, *, purpose: str) -> None:
    """Mount a tmpfs on ``target`` (needs root); fail under CI=true, skip elsewhere, if impossible.
    The caller unmounts it (``umount``) in a ``finally``."""
    import os
    import subprocess

    import pytest

    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs for {purpose}: {result.stderr.strip() or result.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
