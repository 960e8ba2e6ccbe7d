"""Making a commit: stream the client's NDJSON manifest, check it, store it, move the head.

The body is ``{"message", "parents", "allow_empty"}`` on the first line, then one
``ManifestEntry`` per line in any order. Lines are cut from the body's chunks as they arrive
and handed in batches to ``ManifestBuilder`` in a worker thread, so neither the body nor the
manifest is ever held in memory and the event loop never parses entries.

Order of effects, chosen so that a failure at any step leaves nothing visible: check paths
and where entries' objects point (nothing stored on ``UnsafePaths`` or ``ObjectsOutside``),
write the immutable manifest (content-addressed, so a repeat or an orphan is harmless; one
found changed in the lake is rewritten), record the commit, then move the head by
compare-and-swap and undo the record if the swap lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lakecache.catalog import imports, integrity
from lakecache.catalog.commits import commit_by_id
from lakecache.catalog.domain import COMMIT_ID, HeadMoved, Unchanged
from lakecache.catalog.locations import ObjectCheck
from lakecache.catalog.storage import Catalog, manifest_location
from lakecache.core.contracts.catalog import CommitCreated
from lakecache.core.errors import InvalidArgument, NotFound, PreconditionFailed
from lakecache.core.manifest import (
    BuiltManifest,
    ManifestBuilder,
    ManifestEntry,
    canonical_line,
    commit_id,
    read_manifest_file,
)
from lakecache.core.runtime.problems import BadRequestBody

MAX_LINE_BYTES = 1 << 20
_BATCH_LINES = 5000


class EmptyCommit(InvalidArgument):
    """A commit without entries was asked for without ``allow_empty``."""


@dataclass(frozen=True)
class CommitHeader:
    message: str
    parents: list[str] | None
    allow_empty: bool


def parse_header(line: bytes) -> CommitHeader:
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise BadRequestBody(f"line 1 (the commit header) is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BadRequestBody('line 1 must be the commit header {"message": …, "parents": …, "allow_empty": …}')
    message, parents, allow_empty = header.get("message", ""), header.get("parents"), header.get("allow_empty", False)
    if not isinstance(message, str):
        raise BadRequestBody(f"line 1: message must be a string, got {message!r}")
    if parents is not None and (
        not isinstance(parents, list) or not all(isinstance(p, str) and COMMIT_ID.match(p) for p in parents)
    ):
        raise BadRequestBody(f"line 1: parents must be null or a list of full commit ids (64 hex), got {parents!r}")
    if not isinstance(allow_empty, bool):
        raise BadRequestBody(f"line 1: allow_empty must be true or false, got {allow_empty!r}")
    return CommitHeader(message, parents, allow_empty)


async def line_batches(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[bytes]]:
    """Complete lines of an NDJSON body, a batch per received chunk."""
    pending = b""
    async for chunk in chunks:
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise BadRequestBody(f"a line of the body is longer than {MAX_LINE_BYTES} bytes; is it NDJSON?")
        if lines:
            yield lines
    if pending.strip():
        yield [pending]


def _add_lines(builder: ManifestBuilder, objects: ObjectCheck, lines: list[bytes], first_number: int) -> None:
    for number, line in enumerate(lines, first_number):
        if not line.strip():
            continue
        try:
            entry = ManifestEntry.model_validate_json(line)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors()[:5])
            raise BadRequestBody(f"line {number} is not a manifest entry ({problem}): {line[:200]!r}") from None
        if entry.object is not None and "://" not in entry.object:
            raise BadRequestBody(
                f"line {number}: object {entry.object!r} must be a full URL (s3://bucket/key) of imported "
                "bytes; leave it out for synced content stored by hash"
            )
        if entry.object is not None:
            objects.check(entry.path, entry.object)
        builder.add(entry)


def _build(builder: ManifestBuilder, parents: list[str]) -> tuple[BuiltManifest, str]:
    built = builder.build(parents)
    # The builder gives the id but not the entries digest; one more pass over the local file
    # yields it, so an unchanged re-sync is recognised whatever the head's parents were.
    digest = hashlib.sha256()
    for entry in read_manifest_file(built.path):
        digest.update(canonical_line(entry.path, entry.size, entry.sha256))
    entries_digest = digest.hexdigest()
    if commit_id(entries_digest, parents) != built.commit_id:
        raise RuntimeError(f"manifest {built.path} does not match its commit id {built.commit_id}")
    return built, entries_digest


async def _parents(catalog: Catalog, dataset: dict[str, Any], header: CommitHeader) -> list[str]:
    head = dataset.get("head")
    if header.parents is None:
        return [head] if head else []
    declared = header.parents[0] if header.parents else None
    if declared != head:
        raise _head_moved(dataset, declared, head)
    for parent in header.parents[1:]:
        if await commit_by_id(catalog, dataset, parent) is None:
            raise NotFound(f"parent {parent} is not a commit of {dataset['project']}/{dataset['name']}")
    return list(header.parents)


def _head_moved(dataset: dict[str, Any], declared: str | None, head: str | None) -> HeadMoved:
    return HeadMoved(
        f"{dataset['project']}/{dataset['name']}: the commit declares parent {declared or 'none'} but the head "
        f"is {head or 'empty (no commits)'}; someone committed meanwhile. Fetch latest, re-run the sync on "
        "top of it (or pass parents: null to commit on the current head)."
    )


async def create_commit(
    catalog: Catalog, dataset: dict[str, Any], chunks: AsyncIterable[bytes], author: str
) -> dict[str, Any]:
    """Commit the streamed manifest; returns the commit document.

    Raises ``Unchanged`` (with the head) when the entries equal the head's, ``EmptyCommit``,
    ``UnsafePaths``, ``HeadMoved``, ``BadRequestBody``.
    """
    batches = line_batches(chunks)
    first = await anext(batches, [])
    while first and not first[0].strip():
        first.pop(0)
    if not first:
        raise BadRequestBody('the body is empty: send the commit header {"message": …} as its first line')
    header = parse_header(first[0])
    parents = await _parents(catalog, dataset, header)
    # An entry's object is read later by the cacher with its own rights: it may point only
    # inside this dataset's location or the project's import locations (a confused deputy
    # otherwise). The cacher checks again against its grant.
    objects = ObjectCheck(f"{dataset['project']}/{dataset['name']}",
                          [dataset["lake_url"], *await imports.location_urls(catalog, dataset["project"])])
    with ManifestBuilder(catalog.workdir) as builder:
        pending, number = first[1:], 2
        async for batch in batches:
            pending.extend(batch)
            if len(pending) >= _BATCH_LINES:
                await asyncio.to_thread(_add_lines, builder, objects, pending, number)
                number += len(pending)
                pending = []
        await asyncio.to_thread(_add_lines, builder, objects, pending, number)
        objects.raise_if_any()
        built, entries_digest = await asyncio.to_thread(_build, builder, parents)
        return await _record(catalog, dataset, header, built, entries_digest, author)


async def _store_manifest(catalog: Catalog, key: str, built: BuiltManifest) -> None:
    """Put the immutable manifest; one already there (same id) is kept if it still matches."""
    try:
        info = await catalog.lake.put(key, Path(built.path), if_none_match=True)
    except PreconditionFailed:
        stored = {"id": built.commit_id, "manifest_key": key, "parents": built.parents, "files": built.files,
                  "bytes": built.bytes}
        try:
            await integrity.verify(catalog, stored)
            return  # the manifest of this id exists: same id, same entries
        except integrity.ManifestMismatch:
            # Changed in the lake since an earlier commit wrote it: the one built here is right.
            info = await catalog.lake.put(key, Path(built.path))
    integrity.remember(catalog, key, info.etag)


async def _record(catalog: Catalog, dataset: dict[str, Any], header: CommitHeader, built: BuiltManifest,
                  entries_digest: str, author: str) -> dict[str, Any]:
    name = f"{dataset['project']}/{dataset['name']}"
    if built.files == 0 and not header.allow_empty:
        raise EmptyCommit(f"{name}: the manifest has no entries; nothing was committed. "
                          "Pass allow_empty: true to record an empty commit.")
    head = dataset.get("head")
    if head and not header.allow_empty:
        current = await commit_by_id(catalog, dataset, head)
        if current is not None and current.get("entries_digest") == entries_digest:
            raise Unchanged(current)
    key, url = manifest_location(dataset, built.commit_id)
    await _store_manifest(catalog, key, built)
    doc, recorded = await catalog.commits.add(
        dataset, commit_id=built.commit_id, parents=built.parents, message=header.message, author=author,
        files=built.files, bytes=built.bytes, manifest_url=url, manifest_key=key, entries_digest=entries_digest)
    # ``recorded`` is False when an earlier attempt that stopped before moving the head left this
    # record: it is reused, and only a record this attempt made is undone if the swap loses.
    event = CommitCreated(
        dataset_id=dataset["_id"], project=dataset["project"], dataset=dataset["name"],
        commit_id=built.commit_id, parents=built.parents, message=header.message, author=author,
        files=built.files, bytes=built.bytes, manifest_url=url,
    )
    # The head moves and the event is claimed in one single-document write (see core.outbox).
    if not await catalog.datasets.move_head(dataset, head, built.commit_id, event):
        if recorded:
            await catalog.commits.remove(dataset["_id"], built.commit_id)
        latest = await catalog.datasets.by_id(dataset["_id"])
        if latest is None or latest.get("deleted"):
            raise NotFound(f"dataset {name} was deleted while the commit was being made; nothing was committed")
        raise _head_moved(dataset, head, latest.get("head"))
    return doc
