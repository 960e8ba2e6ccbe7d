"""Planning a fill: one streaming pass over the manifest.

Checks every path again (the catalog already refused unsafe commits; a volume must not trust
the lake blindly), groups entries by content, and asks the pool which contents it already
holds, giving the bytes the fill really needs. The manifest is spooled to a local file on
the way so the view can be built from it later without holding a million entries in memory;
only one record per *distinct missing content* stays in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.core.errors import InvalidArgument
from lakecache.core.manifest import ManifestEntry, canonical_line, iter_manifest
from lakecache.core.manifest import commit_id as compute_commit_id
from lakecache.core.paths import CollisionChecker, PathProblem, path_problems

MAX_REPORTED_PROBLEMS = 100
#: ``check(url, path)`` raises ``InvalidArgument`` for an imported entry's object the fill may not read.
ObjectCheck = Callable[[str, str], None]


@dataclass(slots=True)
class Content:
    """One content of the commit, and where the lake keeps its bytes."""

    sha256: str
    size: int
    etag: str | None
    object_url: str | None  # imports: the full URL; otherwise the dataset's content key
    path: str  # the first dataset path holding it, for error messages
    #: Files of the commit holding it (one content may back several): counted while planning, so
    #: progress can say how many files are on the volume once it is.
    files: int = 1


@dataclass
class FillPlan:
    commit_id: str
    files: int = 0
    size_bytes: int = 0
    missing: dict[str, Content] = field(default_factory=dict)
    present: dict[str, Content] = field(default_factory=dict)  # in the pool already: confirmed, not fetched
    spool: Path | None = None

    @property
    def bytes_needed(self) -> int:
        """Bytes the volume must still store: each missing content once."""
        return sum(c.size for c in self.missing.values())

    @property
    def files_present(self) -> int:
        """Files whose content the pool holds already."""
        return sum(c.files for c in self.present.values())

    @property
    def bytes_deduplicated(self) -> int:
        """Bytes of the commit that cost no transfer: in the pool already or repeated content."""
        return self.size_bytes - self.bytes_needed


class _Problems:
    def __init__(self) -> None:
        self.listed: list[PathProblem] = []
        self.total = 0

    def add(self, problem: PathProblem) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED_PROBLEMS:
            self.listed.append(problem)

    def error(self, commit_id: str) -> FillError:
        lines = "\n".join(f"  - {p}" for p in self.listed)
        more = f"\n  … and {self.total - len(self.listed)} more" if self.total > len(self.listed) else ""
        return FillError(
            f"commit {commit_id} has {self.total} path(s) that cannot be materialized safely; "
            f"nothing was written to the volume. Fix the commit in the catalog:\n{lines}{more}",
            retryable=False,
            failed_paths=list(dict.fromkeys(p.path for p in self.listed)),
        )


async def _tee(chunks: AsyncIterable[bytes], spool_fd: int) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        await asyncio.to_thread(_write_all, spool_fd, chunk)
        yield chunk


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pool_has(layout: VolumeLayout, sha256: str, size: int) -> bool:
    # Only verified content is ever renamed into the pool, so name + size is proof enough.
    try:
        info = os.stat(layout.pool_path(sha256), follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == size


def _split_present(layout: VolumeLayout, candidates: dict[str, Content]) -> tuple[dict[str, Content],
                                                                                   dict[str, Content]]:
    """(missing, present): what the pool lacks, and what it holds already."""
    missing: dict[str, Content] = {}
    present: dict[str, Content] = {}
    for sha, content in candidates.items():
        (present if _pool_has(layout, sha, content.size) else missing)[sha] = content
    return missing, present


async def plan_fill(
    layout: VolumeLayout, commit_id: str, manifest_chunks: AsyncIterable[bytes], spool_fd: int, spool: Path, *,
    parents: list[str] | None = None, check_object: ObjectCheck | None = None,
) -> FillPlan:
    """Stream the manifest (spooling it to ``spool_fd``), check paths, find missing content.

    With ``parents``, the manifest must be the commit's: its entries and ``parents`` give
    ``commit_id`` back. ``check_object(url, path)`` may refuse an entry's object URL.
    Raises ``FillError``: unsafe paths (all named, up to a bound), an unreadable or altered
    manifest, an object outside what the copy may read."""
    plan = FillPlan(commit_id, spool=spool)
    problems = _Problems()
    checker = CollisionChecker()
    contents: dict[str, Content] = {}
    digest = hashlib.sha256()
    try:
        async for entry in iter_manifest(_tee(manifest_chunks, spool_fd)):
            _check(entry, checker, problems, contents)
            digest.update(canonical_line(entry.path, entry.size, entry.sha256))
            if entry.object is not None and check_object is not None:
                _check_object(check_object, entry)
            plan.files += 1
            plan.size_bytes += entry.size
    except (InvalidArgument, ValidationError, ValueError) as exc:
        raise FillError(
            f"manifest of commit {commit_id} is not readable: {exc}; check the commit in the catalog",
            retryable=False,
        ) from exc
    if problems.total:
        raise problems.error(commit_id)
    if parents is not None and compute_commit_id(digest.hexdigest(), parents) != commit_id:
        raise FillError(f"the manifest of commit {commit_id} in the lake does not match the commit's id: it was "
                        "changed after the commit was made; nothing was fetched. Restore it, or commit again",
                        retryable=False)
    plan.missing, plan.present = await asyncio.to_thread(_split_present, layout, contents)
    return plan


def _check_object(check_object: ObjectCheck, entry: ManifestEntry) -> None:
    try:
        check_object(entry.object or "", entry.path)
    except InvalidArgument as exc:
        raise FillError(f"{exc}; nothing was fetched", retryable=False, failed_paths=[entry.path]) from exc


def _check(entry: ManifestEntry, checker: CollisionChecker, problems: _Problems, contents: dict[str, Content]) -> None:
    for reason in path_problems(entry.path):
        problems.add(PathProblem(entry.path, reason))
    try:
        for problem in checker.check(entry.path):
            problems.add(problem)
    except ValueError:
        problems.add(PathProblem(entry.path, "out of order: the manifest is not sorted"))
    known = contents.get(entry.sha256)
    if known is None:
        contents[entry.sha256] = Content(entry.sha256, entry.size, entry.etag, entry.object, entry.path)
    elif known.size != entry.size:
        problems.add(PathProblem(entry.path, f"same sha256 as {known.path!r} but a different size"))
    else:
        known.files += 1
