"""Walk a local directory into the files a sync would commit.

Symlinks are never followed: a link could point out of the tree (``../../etc``) or make a
cycle, and following it would commit bytes the user did not mean to publish. They are skipped
and reported, as are sockets, FIFOs and devices, so the caller can warn about each.

The walk only lists: what it saw may change before a file is read, so every later read opens
the file again, safely, and checks it is still what was listed (``lakecache.sdk.files``).
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lakecache.core.errors import InvalidArgument
from lakecache.sdk.files import Interrupted


@dataclass(frozen=True, slots=True)
class LocalFile:
    """One regular file: its dataset path (``/``-separated, relative) and what the hash cache keys on."""

    path: str
    local: str
    size: int
    mtime_ns: int
    inode: int


@dataclass
class Tree:
    """The regular files found, and what was skipped with the reason."""

    files: list[LocalFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def scan_tree(root: Path, *, stop: threading.Event | None = None) -> Tree:
    """Every regular file below ``root`` (symlinks and special files skipped and listed).

    Raises ``InvalidArgument`` when ``root`` is not a directory, ``Interrupted`` once ``stop`` is
    set. Blocking: run in a thread.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidArgument(f"{str(root)!r} is not a directory; pass the directory to sync")
    tree = Tree()
    stack = [(os.fspath(root), "")]
    while stack:
        directory, prefix = stack.pop()
        if stop is not None and stop.is_set():
            raise Interrupted("the scan was interrupted")
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            raise InvalidArgument(f"cannot read directory {directory!r}: {exc.strerror}; fix its permissions") from exc
        for entry in entries:
            # os.fsdecode keeps undecodable bytes as surrogates; path safety then reports them.
            relative = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while the directory was read: it is not part of the tree
            except OSError as exc:
                raise InvalidArgument(f"cannot inspect {entry.path!r}: {exc.strerror}; fix its permissions") from exc
            if stat.S_ISLNK(info.st_mode):
                tree.skipped.append((relative, "symbolic link (not followed)"))
            elif stat.S_ISDIR(info.st_mode):
                stack.append((entry.path, relative + "/"))
            elif stat.S_ISREG(info.st_mode):
                tree.files.append(LocalFile(relative, entry.path, info.st_size, info.st_mtime_ns, info.st_ino))
            else:
                tree.skipped.append((relative, "not a regular file (socket, FIFO or device)"))
    return tree
