"""Ready markers: ``<project>/<dataset>/<commit>.ready`` next to each published view.

The marker is written after the view is renamed into place (temp file, fsync, rename), so
"marker present" implies "view complete". It holds the commit id, the view's file count and
size, and the view's inode, so a reader can tell that the view it finds is the one marked.
A marker that is a link, not a regular file, not this commit's JSON, or names a view that is
not in place is not trusted: reading it fails the fill (``FillError``, not retryable, naming
the marker, logged) until an operator looks at it.

Blocking functions: run them in a worker thread.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import stat
from pathlib import Path

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.volume.layout import VolumeLayout, marker_name
from lakecache.cacher.volume.safety import lexists, open_dir, open_root

_MAX_MARKER = 64 * 1024
log = logging.getLogger(__name__)


def write_marker(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """Write marker ``name`` in ``dir_fd`` atomically (temp file, fsync, rename)."""
    temp = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.unlink(temp, dir_fd=dir_fd)
        raise


def read_marker(layout: VolumeLayout, project: str, dataset: str, commit_id: str) -> dict | None:
    """The ready marker's content, or ``None`` when the commit is not ready on the volume.

    ``FillError`` (not retryable, naming the marker; logged) for a marker the cacher did not
    write as it is: a link, not a regular file, not this commit's JSON, or naming a view that
    is not in place."""
    root_fd = open_root(layout.root)
    try:
        dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(root_fd)
    path = layout.marker_path(project, dataset, commit_id)
    try:
        try:
            fd = os.open(marker_name(commit_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=dataset_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            link = exc.errno == errno.ELOOP
            raise _bad_marker(path, "is a symbolic link" if link else f"cannot be opened ({exc.strerror})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_MARKER:
                raise _bad_marker(path, "is not a regular file of a few hundred bytes")
            if info.st_uid != os.geteuid():
                raise _bad_marker(path, f"belongs to uid {info.st_uid}, not the cacher's")
            data = os.read(fd, _MAX_MARKER)
        finally:
            os.close(fd)
        document = _parse_marker(path, data, commit_id)
        view = lexists(dataset_fd, commit_id)
        if view is None or not stat.S_ISDIR(view.st_mode) or document.get("inode", view.st_ino) != view.st_ino:
            raise _bad_marker(path, "names a view that is not in place")
        return document
    finally:
        os.close(dataset_fd)


def _parse_marker(path: Path, data: bytes, commit_id: str) -> dict:
    try:
        document = json.loads(data)
    except ValueError:
        raise _bad_marker(path, "is not JSON") from None
    if not isinstance(document, dict) or document.get("commit_id") != commit_id:
        raise _bad_marker(path, f"is not the marker of commit {commit_id}")
    if not all(isinstance(document.get(k), int) and not isinstance(document.get(k), bool)
               for k in ("files", "size_bytes")):
        raise _bad_marker(path, "lacks the view's file count and size")
    return document


def _bad_marker(path: Path, what: str) -> FillError:
    log.warning("ready marker %s %s; the fill fails until an operator removes it", path, what)
    return FillError(f"the ready marker {path} {what}: LakeCache did not write it as it is, so the view is not "
                     "trusted. Remove the marker (and the view next to it, if any) and request the commit again",
                     retryable=False, failed_paths=[str(path)])
