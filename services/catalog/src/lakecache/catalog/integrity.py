"""Reading a commit's manifest only as it was committed: its entries must give back the commit id.

The lake is outside the catalog's database: anyone with write access to it could replace a
manifest, and a commit would silently mean other files. So a manifest is read only after its
entries (paths, sizes, hashes, in order) and the commit's parents were hashed back to the
commit id; a mismatch is refused by name (``ManifestMismatch``).

Verification is cached per manifest, pinned to the etag that was verified: a manifest is
immutable, so once its bytes matched, the same object (same etag) still matches, and every
later read is a conditional ``get(if_match=etag)`` — a replaced object fails the condition
and is verified again. The alternative, answering a page only after reading the whole
manifest, would make every page of a million-entry commit cost a full read; with the cache
the first read of a commit costs one extra pass and the others none.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from lakecache.catalog.storage import Catalog
from lakecache.core.errors import Conflict, InvalidArgument, PreconditionFailed
from lakecache.core.manifest import ManifestEntry, canonical_line, commit_id, iter_manifest
from lakecache.core.paths import sort_key

#: Verified manifests remembered (about 200 bytes each).
CACHE_SIZE = 10_000


class ManifestMismatch(Conflict):
    """A manifest in the lake no longer matches the commit id it is stored under."""


def _mismatch(commit: dict[str, Any], why: str) -> ManifestMismatch:
    return ManifestMismatch(
        f"the manifest of commit {commit['id']} in the lake does not match its id; it was changed after the "
        f"commit was made ({why}). Nothing was read from it; an operator should restore it from a backup or "
        "re-commit the data."
    )


def remember(catalog: Catalog, key: str, etag: str) -> None:
    """Record that the manifest at ``key`` with ``etag`` matches its commit."""
    cache = catalog.verified_manifests
    cache[key] = etag
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


async def verify(catalog: Catalog, commit: dict[str, Any]) -> str:
    """Read the commit's whole manifest and check it; returns the etag that was verified."""
    key = commit["manifest_key"]
    digest, files, total, previous = hashlib.sha256(), 0, 0, None
    try:
        async with catalog.lake.get(key) as reader:
            etag = reader.info.etag
            async for entry in iter_manifest(reader):
                order = sort_key(entry.path)
                if previous is not None and order <= previous:
                    raise _mismatch(commit, f"entries out of order at {entry.path!r}")
                previous = order
                digest.update(canonical_line(entry.path, entry.size, entry.sha256))
                files += 1
                total += entry.size
    except (ValidationError, InvalidArgument, zlib.error, UnicodeDecodeError):
        raise _mismatch(commit, "it is not a readable manifest") from None
    if commit_id(digest.hexdigest(), commit["parents"]) != commit["id"]:
        raise _mismatch(commit, "its entries and parents hash to another id")
    if (files, total) != (commit["files"], commit["bytes"]):
        raise _mismatch(commit, "its entry count or size differs from the commit's")
    remember(catalog, key, etag)
    return etag


async def manifest_entries(catalog: Catalog, commit: dict[str, Any]) -> AsyncIterator[ManifestEntry]:
    """The commit's entries, streamed from its manifest in the lake once it is known to match."""
    key = commit["manifest_key"]
    for _attempt in range(2):
        etag = catalog.verified_manifests.get(key) or await verify(catalog, commit)
        try:
            async with catalog.lake.get(key, if_match=etag) as reader:
                async for entry in iter_manifest(reader):
                    yield entry
            return
        except PreconditionFailed:
            # Replaced since it was verified: verify what is there now (the condition fails on
            # entry, before any entry was yielded).
            catalog.verified_manifests.pop(key, None)
    raise _mismatch(commit, "it keeps changing while it is read")
