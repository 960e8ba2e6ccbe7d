"""Commit manifests: the sorted, compressed, streamable list of a commit's entries.

Format (version 1): gzip of JSON lines, one entry per line, in ``paths.sort_key`` order:
``{"path": …, "size": …, "sha256": …, "etag": …, "version_id": …, "object": …}`` (``null``
fields omitted). ``object`` is the lake key holding the bytes when it is not the dataset's
content-addressed location (imports keep objects where they are).

The commit id is the sha256 of a canonical encoding that covers only what defines the
content — paths, sizes, hashes — and the parents::

    sha256("lakecache-commit-v1\\n" + "parents " + " ".join(parents) + "\\n"
           + "entries " + sha256(canonical lines) + "\\n")

where each canonical line is ``json.dumps([path, size, sha256], separators=(",", ":"))`` +
``"\\n"``. Same content and parents give the same id on any machine; where the bytes live
(etag, object key, source version) does not change it.

``ManifestBuilder`` sorts any number of entries with bounded memory (sorted runs spilled to
disk, then merged) and checks path safety on the way; readers stream entries from the lake.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import re
import tempfile
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lakecache.core.errors import InvalidArgument
from lakecache.core.paths import CollisionChecker, PathProblem, normalize, path_problems, sort_key

FORMAT_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_REPORTED_PROBLEMS = 1000


class ManifestEntry(BaseModel):
    """One file of a commit."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=_SHA256.pattern)
    etag: str | None = None
    version_id: str | None = None
    object: str | None = None

    def line(self) -> bytes:
        return (self.model_dump_json(exclude_none=True) + "\n").encode()


class UnsafePaths(InvalidArgument):
    """A commit was refused because some paths cannot be materialized safely."""

    def __init__(self, problems: list[PathProblem], total: int) -> None:
        self.problems = problems
        self.total = total
        listed = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  … and {total - 20} more" if total > 20 else ""
        super().__init__(
            f"{total} unsafe path(s); nothing was committed. Rename or exclude them:\n{listed}{more}"
        )


def canonical_line(path: str, size: int, sha256: str) -> bytes:
    return json.dumps([path, size, sha256], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def commit_id(entries_digest: str, parents: Iterable[str]) -> str:
    """The commit id from the sha256 of the canonical entry lines and the parent ids."""
    text = f"lakecache-commit-v1\nparents {' '.join(parents)}\nentries {entries_digest}\n"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class BuiltManifest:
    """A manifest written to a local file, ready to be stored in the lake."""

    path: Path
    commit_id: str
    parents: list[str]
    files: int
    bytes: int


@dataclass(order=True)
class _Item:
    key: bytes
    line: bytes = field(compare=False)


class ManifestBuilder:
    """Collects entries in any order; ``build`` writes the sorted manifest.

    Memory stays bounded by ``run_entries`` (sorted runs are spilled to ``workdir``). Paths
    are NFC-normalized. Per-path problems are found in ``add``; collisions (NFC twins,
    a file that is also a directory) while merging. Any problem raises ``UnsafePaths``
    from ``build`` and no manifest is produced. Synchronous: run it in a worker thread.
    """

    def __init__(self, workdir: Path | None = None, *, run_entries: int = 100_000) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="lakecache-manifest-", dir=workdir)
        self._dir = Path(self._tmp.name)
        self._run_entries = run_entries
        self._buffer: list[_Item] = []
        self._runs: list[Path] = []
        self._problems: list[PathProblem] = []
        self._problem_count = 0

    def _problem(self, problem: PathProblem) -> None:
        self._problem_count += 1
        if len(self._problems) < _MAX_REPORTED_PROBLEMS:
            self._problems.append(problem)

    def add(self, entry: ManifestEntry) -> None:
        for reason in path_problems(entry.path):
            self._problem(PathProblem(entry.path, reason))
        path = normalize(entry.path)
        if path != entry.path:
            entry = entry.model_copy(update={"path": path})
        self._buffer.append(_Item(sort_key(path), entry.line()))
        if len(self._buffer) >= self._run_entries:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort()
        run = self._dir / f"run-{len(self._runs):05d}"
        with run.open("wb") as out:
            for item in self._buffer:
                out.write(item.key.hex().encode() + b"\t" + item.line)
        self._runs.append(run)
        self._buffer.clear()

    def _merged(self) -> Iterator[_Item]:
        def read(run: Path) -> Iterator[_Item]:
            with run.open("rb") as lines:
                for raw in lines:
                    key, _, line = raw.partition(b"\t")
                    yield _Item(bytes.fromhex(key.decode()), line)

        self._buffer.sort()
        return heapq.merge(*(read(r) for r in self._runs), iter(self._buffer))

    def build(self, parents: Iterable[str] = (), *, output: Path | None = None) -> BuiltManifest:
        parents = list(parents)
        for parent in parents:
            if not _SHA256.match(parent):
                raise InvalidArgument(f"parent {parent!r} is not a commit id (64 hex digits)")
        target = output or self._dir / "manifest.jsonl.gz"
        digest, files, total = hashlib.sha256(), 0, 0
        checker = CollisionChecker()
        with gzip.open(target, "wb", compresslevel=6) as out:
            for item in self._merged():
                entry = json.loads(item.line)
                for problem in checker.check(entry["path"]):
                    self._problem(problem)
                digest.update(canonical_line(entry["path"], entry["size"], entry["sha256"]))
                out.write(item.line)
                files += 1
                total += entry["size"]
        if self._problem_count:
            target.unlink(missing_ok=True)
            raise UnsafePaths(self._problems, self._problem_count)
        return BuiltManifest(target, commit_id(digest.hexdigest(), parents), parents, files, total)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> ManifestBuilder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_manifest_file(path: Path) -> Iterator[ManifestEntry]:
    """Entries of a local manifest file, streamed."""
    with gzip.open(path, "rb") as lines:
        for line in lines:
            yield ManifestEntry.model_validate_json(line)


async def iter_manifest(chunks: AsyncIterable[bytes]) -> AsyncIterator[ManifestEntry]:
    """Entries of a manifest streamed from compressed ``chunks`` (e.g. an object-store read)."""
    inflate = zlib.decompressobj(wbits=31)  # gzip container
    pending = b""
    async for chunk in chunks:
        pending += inflate.decompress(chunk)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line:
                yield ManifestEntry.model_validate_json(line)
    pending += inflate.flush()
    if not inflate.eof:
        raise InvalidArgument("manifest is truncated: the gzip stream did not end")
    if pending.strip():
        yield ManifestEntry.model_validate_json(pending)


DiffKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class DiffEntry:
    kind: DiffKind
    path: str
    old_size: int | None
    new_size: int | None


async def diff_manifests(
    old: AsyncIterable[ManifestEntry], new: AsyncIterable[ManifestEntry]
) -> AsyncIterator[DiffEntry]:
    """Added, removed and changed paths between two manifests, by a merge join (both are
    sorted by ``sort_key``), in bounded memory. Changed: same path, different content hash."""
    old_it, new_it = aiter(old), aiter(new)
    a = await anext(old_it, None)
    b = await anext(new_it, None)
    while a is not None or b is not None:
        if b is None or (a is not None and sort_key(a.path) < sort_key(b.path)):
            yield DiffEntry("removed", a.path, a.size, None)
            a = await anext(old_it, None)
        elif a is None or sort_key(b.path) < sort_key(a.path):
            yield DiffEntry("added", b.path, None, b.size)
            b = await anext(new_it, None)
        else:
            if a.sha256 != b.sha256:
                yield DiffEntry("changed", b.path, a.size, b.size)
            a = await anext(old_it, None)
            b = await anext(new_it, None)

