"""Which dataset paths can be materialized safely on a POSIX volume.

A path is a ``/``-separated relative name such as ``train/cat/001.jpg``. The catalog refuses
unsafe paths when a commit is made; the cacher checks again before it writes (defense in
depth). Rules, each with the reason people see:

* not empty, valid UTF-8 (no lone surrogates), at most 4096 bytes, each segment at most
  255 bytes — the Linux ``PATH_MAX``/``NAME_MAX`` limits;
* relative: no leading ``/`` and no drive (``C:``) prefix;
* no empty segment (``a//b``, trailing ``/``), no ``.`` or ``..`` segment;
* no NUL or other control character (they break tools and terminals);
* no backslash: it is a legal POSIX file-name character but a separator on Windows, so a
  key like ``a\\b`` means different files to different clients; refusing it is the only
  reading that is the same everywhere;
* across a commit, no two paths equal after Unicode NFC normalization (macOS and Linux
  spell some names differently; both would land on one file), and no path that is both a
  file and a directory (``a`` and ``a/b``).

Paths are stored NFC-normalized, so one tree gives one commit id on every machine.
Collisions are found in a single pass over paths sorted by ``sort_key`` (collisions become
neighbours), so a million-entry commit is checked in bounded memory.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class PathProblem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path!r}: {self.reason}"


def normalize(path: str) -> str:
    """The stored form of ``path`` (Unicode NFC)."""
    return unicodedata.normalize("NFC", path)


def path_problems(path: str) -> list[str]:
    """Every reason ``path`` alone is unsafe (empty list: safe)."""
    if not path:
        return ["empty path"]
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return ["not valid UTF-8 (rename the file)"]
    reasons = []
    if len(encoded) > MAX_PATH_BYTES:
        reasons.append(f"longer than {MAX_PATH_BYTES} bytes ({len(encoded)})")
    if _CONTROL.search(path):
        reasons.append("contains NUL or a control character")
    if "\\" in path:
        reasons.append("contains a backslash (a separator on Windows; use '/')")
    if path.startswith("/"):
        reasons.append("absolute path (must be relative to the dataset root)")
    elif _DRIVE.match(path):
        reasons.append("starts with a drive letter")
    segments = path.split("/")
    inner = segments[1:] if path.startswith("/") else segments
    if "" in inner:
        reasons.append("has an empty segment ('//' or a trailing '/')")
    if any(s in (".", "..") for s in segments):
        reasons.append("has a '.' or '..' segment")
    long = [s for s in segments if len(s.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES]
    if long:
        reasons.append(f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return reasons


def sort_key(path: str) -> bytes:
    """Order paths segment by segment, so a directory's entries follow it directly:
    ``a``, ``a/b``, ``a-b`` (a plain byte sort would put ``a-b`` between them)."""
    return normalize(path).encode("utf-8", "surrogatepass").replace(b"/", b"\x00")


class CollisionChecker:
    """Feed paths in ``sort_key`` order; ``check`` reports collisions with the previous path."""

    def __init__(self) -> None:
        self._previous: str | None = None
        self._previous_key: bytes | None = None

    def check(self, path: str) -> list[PathProblem]:
        normalized = normalize(path)
        key = sort_key(path)
        problems = []
        if self._previous_key is not None:
            if key < self._previous_key:
                raise ValueError(f"paths are not sorted: {path!r} after {self._previous!r}")
            if key == self._previous_key:
                problems.append(PathProblem(path, f"same name as {self._previous!r} after Unicode NFC normalization"))
        # A file followed by anything below it: ``a`` then ``a/b``.
        if self._previous is not None and normalized.startswith(normalize(self._previous) + "/"):
            problems.append(PathProblem(self._previous, f"is a file but also a directory of {path!r}"))
        self._previous, self._previous_key = path, key
        return problems


def check_paths(paths: Iterable[str]) -> list[PathProblem]:
    """All problems of a set of paths (sorts in memory: for small sets and tests)."""
    ordered = sorted(paths, key=sort_key)
    checker = CollisionChecker()
    problems = [PathProblem(p, reason) for p in ordered for reason in path_problems(p)]
    for path in ordered:
        problems.extend(checker.check(path))
    return problems


def iter_problems(sorted_paths: Iterable[str]) -> Iterator[PathProblem]:
    """Problems of paths already in ``sort_key`` order, in one pass (bounded memory)."""
    checker = CollisionChecker()
    for path in sorted_paths:
        for reason in path_problems(path):
            yield PathProblem(path, reason)
        yield from checker.check(path)
