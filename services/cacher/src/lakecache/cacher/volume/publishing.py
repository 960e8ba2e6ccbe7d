"""Publish records: the proof that a directory at a view path is one a fill renamed into place.

A fill writes a record before it renames its staged view into ``<project>/<dataset>/<commit>``:
``.lakecache/publishing/<project>.<dataset>.<staging name>``, holding the commit and the inode
of the staged directory (a rename keeps it). A directory found at a view path without a ready
marker (a crash came between the rename and the marker) is adopted only when a record of that
view names its inode; anything else there — left by hand, by an older tool, or by a second
volume registered over the same directory — is not the cacher's to publish. Records live as
long as their view: eviction drops them, and a record whose staged directory was never renamed
(still in staging) is dropped with the staging leftovers.

Only the inode is recorded, not the device: an NFS mount's device number may change across
remounts, its file ids do not. Names: slugs and a hex commit id contain no dot, so
``<project>.<dataset>.<commit>.…`` is unambiguous.

Blocking functions: run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets

from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.safety import fsync_dir, open_dir

_MAX_RECORD = 4096


def _prefix(project: str, dataset: str, commit_id: str) -> str:
    return f"{project}.{dataset}.{commit_id}."


def write_record(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str,
                 staging_name: str, inode: int) -> str:
    """Record (durably) that staged view ``staging_name``, inode ``inode``, is about to become the
    view of ``commit_id``; returns the record's name."""
    name = f"{project}.{dataset}.{staging_name}"
    data = json.dumps({"project": project, "dataset": dataset, "commit_id": commit_id, "staging": staging_name,
                       "inode": inode}).encode()
    fd = open_dir(root_fd, layout.root, layout.publishing_parts, create=True)
    try:
        temp = f".{name}.{secrets.token_hex(4)}.tmp"
        file_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=fd)
        try:
            os.write(file_fd, data)
            os.fsync(file_fd)
        finally:
            os.close(file_fd)
        os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
        fsync_dir(fd)
    finally:
        os.close(fd)
    return name


def _read(fd: int, name: str) -> dict | None:
    try:
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return None
    try:
        data = os.read(file_fd, _MAX_RECORD + 1)
    finally:
        os.close(file_fd)
    try:
        record = json.loads(data) if len(data) <= _MAX_RECORD else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def proven(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str, inode: int) -> bool:
    """Whether a publish record says the directory with ``inode`` became ``commit_id``'s view."""
    try:
        fd = open_dir(root_fd, layout.root, layout.publishing_parts, create=False)
    except FileNotFoundError:
        return False
    try:
        prefix = _prefix(project, dataset, commit_id)
        for name in os.listdir(fd):
            if name.startswith(prefix):
                record = _read(fd, name)
                if record is not None and record.get("commit_id") == commit_id and record.get("inode") == inode:
                    return True
        return False
    finally:
        os.close(fd)


def drop_record(layout: VolumeLayout, root_fd: int, name: str) -> None:
    """Forget record ``name`` (its staged view was not renamed into place)."""
    _drop(layout, root_fd, lambda found: found == name)


def drop_records(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str) -> None:
    """Forget every publish record of ``commit_id``'s view (it is being evicted or set aside)."""
    _drop(layout, root_fd, lambda name: name.startswith(_prefix(project, dataset, commit_id)))


def drop_unpublished(layout: VolumeLayout, root_fd: int, staged: set[str]) -> None:
    """Forget records whose staged view is still in staging (``staged``): never renamed into place;
    and half-written ones. Only under the exclusive volume lock (no fill is writing one)."""
    _drop(layout, root_fd, lambda name: (len(parts := name.split(".", 2)) == 3 and parts[2] in staged)
          or (name.startswith(".") and name.endswith(".tmp")))


def _drop(layout: VolumeLayout, root_fd: int, matches) -> None:
    try:
        fd = open_dir(root_fd, layout.root, layout.publishing_parts, create=False)
    except FileNotFoundError:
        return
    try:
        for name in os.listdir(fd):
            if matches(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)
        fsync_dir(fd)
    finally:
        os.close(fd)
