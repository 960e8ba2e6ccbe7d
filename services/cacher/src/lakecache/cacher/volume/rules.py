"""Which directories may be cache volumes.

The cacher writes a volume with its own rights and eviction deletes there, so a volume path is
a grant of the cacher's rights over a directory: only an installation administrator registers
one (``sites:write``), and only a directory that is

* absolute and canonical — ``os.path.realpath(path) == path``: no ``..`` or ``.``, no repeated
  or trailing ``/``, no symbolic link on the way (give the real path), at most ``PATH_MAX``;
* an existing directory that no one but its owner may write (a directory others may write lets
  them plant a view, or rename a published one away and put their own files at its path);
* not a system location (``SYSTEM_TREES`` and everything below them, ``SYSTEM_DIRS``
  themselves);
* inside one of ``cacher.volume_roots`` when that allow-list is set;
* not inside, containing, or the same directory as another volume of the site — compared by
  path *and* by device and inode, so an alias (a bind mount, the same directory registered
  twice) is refused too: two volumes over one directory let an eviction on one delete the
  other's leased copy;
* not inside or containing the cacher's own files (its home, keys and local lake).

Blocking (``stat``): call from a worker thread.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lakecache.core.errors import InvalidArgument

PATH_MAX = 4096  # Linux's, with the terminating NUL: a path has at most 4095 bytes
NAME_MAX = 255
#: Never a volume, nor anything below them: the system's own trees.
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/etc", "/boot", "/efi", "/bin", "/sbin", "/lib*", "/usr", "/run", "/root",
                "/snap", "/var/run", "/var/lock", "/var/log", "/var/spool", "/var/mail", "/var/lib/dpkg",
                "/var/lib/rpm", "/var/lib/apt")
#: Never a volume themselves (a directory below them may be one): they hold everyone's files.
SYSTEM_DIRS = ("/", "/tmp", "/var", "/var/tmp", "/var/lib", "/var/cache", "/home", "/mnt", "/media", "/opt", "/srv")


@dataclass(frozen=True)
class Place:
    """A directory a volume must not overlap: another volume, or one of the cacher's own."""

    what: str  # for people: "volume 'nfs1'", "the cacher's home"
    path: str


def _shown(path: str) -> str:
    return repr(path if len(path) <= 80 else path[:60] + "…")


def check_shape(path: str) -> None:
    """Refuse (``InvalidArgument``) a path that is not absolute, canonical and an existing directory."""
    try:
        encoded = path.encode()
    except UnicodeEncodeError:
        raise InvalidArgument("volume path is not valid UTF-8 text") from None
    if len(encoded) >= PATH_MAX or any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise InvalidArgument(f"volume path {_shown(path)} is {len(encoded)} bytes long: paths have at most "
                              f"{PATH_MAX - 1} bytes and names at most {NAME_MAX}")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise InvalidArgument(f"volume path {_shown(path)} contains a control character")
    if not path.startswith("/"):
        raise InvalidArgument(f"volume path {_shown(path)} must be absolute (e.g. /mnt/nfs1)")
    real = os.path.realpath(path)
    if real != path or path.startswith("//"):
        raise InvalidArgument(f"volume path {_shown(path)} is not canonical (it is {real!r}): give the real path, "
                              "without '..', '.', repeated or trailing '/' or symbolic links")
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISDIR(info.st_mode):
        raise InvalidArgument(f"volume path {_shown(path)} is not an existing directory on the cacher's host; "
                              "mount or create it first")



def check_placement(path: str, *, roots: Sequence[str], others: Iterable[Place], reserved: Iterable[Place]) -> None:
    """Refuse (``InvalidArgument``) a canonical directory that is a system location, outside
    ``roots`` (when given), or overlaps ``others`` (volumes) or ``reserved`` (the cacher's own)."""
    for tree in SYSTEM_TREES:
        if _under(path, tree):
            raise InvalidArgument(f"volume path {_shown(path)} is a system location (under {tree}); use a directory "
                                  "meant for data, such as a mount under /mnt")
    if path in SYSTEM_DIRS:
        raise InvalidArgument(f"volume path {_shown(path)} is a system location that holds everyone's files; use a "
                              f"directory of its own below it (e.g. {path.rstrip('/')}/lakecache)")
    if roots and not any(_within(path, root) for root in roots):
        raise InvalidArgument(f"volume path {_shown(path)} is outside the directories volumes may use "
                              f"(cacher.volume_roots: {', '.join(roots)})")
    mine = _identities(path)
    for place in (*others, *reserved):
        relation = _relation(path, mine, place.path)
        if relation:
            raise InvalidArgument(f"volume path {_shown(path)} {relation} {place.what} ({place.path}); volumes must "
                                  "not overlap each other or the cacher's own files")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o022:
        raise InvalidArgument(f"volume path {_shown(path)} may be written by other users (mode {mode:o}); only the "
                              f"cacher may write a cache volume: chmod go-w {path} (jobs need only read access)")


def _under(path: str, tree: str) -> bool:
    if tree.endswith("*"):
        first = path.split("/")[1] if path.count("/") >= 1 else ""
        return first.startswith(tree.strip("/*"))
    return _within(path, tree)


def _within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root if root == "/" else root + "/")


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _identities(path: str) -> list[tuple[int, int]]:
    """(device, inode) of ``path`` and of each directory above it, nearest first."""
    found = []
    current = path
    while True:
        identity = _identity(current)
        if identity is not None:
            found.append(identity)
        if current == "/":
            return found
        current = os.path.dirname(current)


def _relation(path: str, mine: list[tuple[int, int]], other: str) -> str | None:
    other_real = os.path.realpath(other)
    if path == other_real or (mine and mine[0] == _identity(other_real)):
        return "is the same directory as"
    if _within(path, other_real) or (_identity(other_real) in mine[1:]):
        return "is inside"
    if _within(other_real, path) or (mine and mine[0] in _identities(other_real)[1:]):
        return "contains"
    return None
