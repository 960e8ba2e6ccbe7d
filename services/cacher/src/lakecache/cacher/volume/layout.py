"""Where things live on a cache volume.

::

    <root>/<project>/<dataset>/<commit>/…          read-only view of a commit (jobs read here)
    <root>/<project>/<dataset>/<commit>.ready      ready marker (JSON, holds the commit id)
    <root>/.lakecache/pool/sha256/<xx>/<sha256>    verified content, one inode per content
    <root>/.lakecache/tmp/                         downloads in progress, spooled manifests
    <root>/.lakecache/staging/                     views being built
    <root>/.lakecache/publishing/                  publish records: which directory a fill renamed into place
    <root>/.lakecache/trash/                       views being removed
    <root>/.lakecache/lock                         fills share it, the pool sweep takes it alone

View files are hardlinks to pool files, so N commits sharing content share storage, and a
pool file's link count tells how many view files use it. The marker sits *next to* the view,
not inside it: a dataset may contain a file of any name, so no name inside the view is free.
Project and dataset names are slugs and commit ids hex, so ``<commit>.ready`` can never be
another commit's view, and ``.lakecache`` can never be a project. Each project has its own
views (``<root>/<project>/…``); the pool is shared by every project on the volume.

Modes (``ViewModes``, the cacher's ``view_mode``): views and pool files are read-only, readable
by everyone (``world``, the default: jobs of any OS user), by the volume's group (``group``) or
only by the cacher's OS user (``owner``); ``.lakecache`` is the cacher's alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lakecache.core.layout import manifest_key
from lakecache.core.vocabulary.names import is_slug

META_DIR = ".lakecache"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid project or dataset slug, else ``ValueError`` saying why."""
    if not is_slug(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid name: use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_sha256(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ValueError(f"{kind} {value!r} is not a sha256 (64 lowercase hex digits)")
    return value


@dataclass(frozen=True)
class SpaceInfo:
    total_bytes: int
    free_bytes: int  # available to unprivileged writers (f_bavail), what a fill can use

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.free_bytes


@dataclass(frozen=True)
class ViewModes:
    """Permission bits of what a fill publishes: view directories and files (pool files are
    view files: the same inodes), and the project and dataset directories above views."""

    directory: int
    file: int
    parent: int


VIEW_MODES = {
    "world": ViewModes(0o555, 0o444, 0o755),
    "group": ViewModes(0o550, 0o440, 0o750),
    "owner": ViewModes(0o500, 0o400, 0o700),
}
META_MODE = 0o700  # .lakecache: only the cacher (its OS user) enters it


def view_modes(name: str) -> ViewModes:
    """The modes of ``view_mode`` ``name`` (``world``, ``group`` or ``owner``)."""
    try:
        return VIEW_MODES[name]
    except KeyError:
        raise ValueError(f"view_mode {name!r} is not one of {', '.join(VIEW_MODES)}") from None


@dataclass(frozen=True)
class VolumeLayout:
    """Paths on one volume. Names are validated here, so a path built by this class never
    holds ``..``, a separator inside a name, or a name starting with a dot."""

    root: Path
    modes: ViewModes = VIEW_MODES["world"]

    @classmethod
    def at(cls, root: str | os.PathLike[str], view_mode: str = "world") -> VolumeLayout:
        return cls(Path(root).absolute(), view_modes(view_mode))

    # The volume's own bookkeeping, as path segments relative to the root (for dir_fd walks).
    @property
    def meta_parts(self) -> tuple[str, ...]:
        return (META_DIR,)

    @property
    def pool_parts(self) -> tuple[str, ...]:
        return (META_DIR, "pool", "sha256")

    @property
    def tmp_parts(self) -> tuple[str, ...]:
        return (META_DIR, "tmp")

    @property
    def staging_parts(self) -> tuple[str, ...]:
        return (META_DIR, "staging")

    @property
    def trash_parts(self) -> tuple[str, ...]:
        return (META_DIR, "trash")

    @property
    def publishing_parts(self) -> tuple[str, ...]:
        return (META_DIR, "publishing")

    def pool_bucket(self, sha256: str) -> tuple[str, ...]:
        """Directory (segments) holding content ``sha256``; 256 buckets keep directories small."""
        return (*self.pool_parts, check_sha256("content hash", sha256)[:2])

    def pool_path(self, sha256: str) -> Path:
        return self.root.joinpath(*self.pool_bucket(sha256), sha256)

    def dataset_parts(self, project: str, dataset: str) -> tuple[str, ...]:
        return (check_name("project", project), check_name("dataset", dataset))

    def view_path(self, project: str, dataset: str, commit_id: str) -> Path:
        return self.root.joinpath(*self.dataset_parts(project, dataset), check_sha256("commit id", commit_id))

    def marker_path(self, project: str, dataset: str, commit_id: str) -> Path:
        return self.root.joinpath(*self.dataset_parts(project, dataset), marker_name(commit_id))

    def space(self) -> SpaceInfo:
        """Capacity of the filesystem holding the volume (``statvfs``; blocking, cheap)."""
        stats = os.statvfs(self.root)
        return SpaceInfo(stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize)


def marker_name(commit_id: str) -> str:
    return f"{check_sha256('commit id', commit_id)}.ready"


def marker_document(commit_id: str, files: int, size_bytes: int) -> dict:
    """What a ready marker holds: the commit (= manifest) id, so a reader can check that the
    view it opened is the one it asked for."""
    return {
        "commit_id": commit_id,
        "manifest": manifest_key(commit_id),
        "files": files,
        "size_bytes": size_bytes,
    }
