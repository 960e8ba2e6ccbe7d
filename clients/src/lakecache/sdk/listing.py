"""Listing the files of a cached view: ``lakecache.files``.

    import lakecache

    with lakecache.use("team/images@v3", site="dgx") as root:
        for path in lakecache.files(root, "train/**/*.png"):
            ...

The list is the same on every host that holds the same commit: regular files only, in the order
``lakecache data ls`` shows a commit's entries (segment by segment by UTF-8 bytes, so
``a/b`` sorts before ``a-b``; no locale, no file-system order), so a job that shuffles with a seed
or splits by index sees the same samples everywhere.

Symbolic links are never followed and never listed, nor are FIFOs, sockets or devices: a view the
cacher built holds none, so one found there was planted, and following it could lead out of the
view (or into a cycle).
"""

from __future__ import annotations

import os
import re
import stat
from functools import lru_cache
from pathlib import Path

from lakecache.core.paths import sort_key


def files(path: str | os.PathLike[str], pattern: str = "**/*") -> list[Path]:
    """The regular files under ``path`` whose path relative to it matches ``pattern``, sorted
    (see the module), each as ``path / relative``.

    ``pattern`` is a glob matched against the whole relative path, ``/``-separated: ``*`` and
    ``?`` match within one name, ``[abc]``/``[!abc]`` one character of a set, and ``**`` as a
    whole segment any number of directories, none included. So ``**/*`` (the default) is every
    file, ``*.png`` the PNGs at the top only, ``**/*.png`` the PNGs at any depth, ``train/**`` every
    file under ``train``. Names starting with ``.`` match too, as in ``pathlib``.

    Raises ``ValueError`` for a pattern that is absolute or has an empty, ``.`` or ``..`` segment,
    ``NotADirectoryError``/``FileNotFoundError`` when ``path`` is not a directory, and the
    ``OSError`` of a directory under it that cannot be read (a partial list would look complete).
    """
    root = Path(path)
    matches = _compile(pattern).fullmatch
    found = [relative for relative in _walk(root) if matches(relative)]
    found.sort(key=sort_key)
    return [root / relative for relative in found]


def _walk(root: Path) -> list[str]:
    """Relative ``/``-separated paths of the regular files under ``root``, in no order. ``root``
    itself may be a link (the caller chose it); nothing below it is followed."""
    listed: list[str] = []
    pending = [("", os.fspath(root))]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                # One lstat per entry (cached by scandir): the mode of the entry itself, never its target.
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    pending.append((prefix + entry.name + "/", entry.path))
                elif stat.S_ISREG(mode):
                    listed.append(prefix + entry.name)
    return listed


@lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    # Python 3.11's PurePath.match has no recursive ``**`` and fnmatch's ``*`` crosses ``/``
    # (full_match arrives in 3.13), so the pattern is translated here, one segment at a time.
    if not pattern or pattern.startswith("/"):
        raise ValueError(f"pattern {pattern!r} must be a relative glob such as '**/*.png'")
    segments = pattern.split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"pattern {pattern!r} has an empty, '.' or '..' segment; write it relative to the view, "
                         "e.g. 'train/**/*.png'")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment(segment) + ("" if last else "/")
    try:
        return re.compile(regex, re.DOTALL)
    except re.error as exc:  # e.g. a reversed range: '[z-a]'
        raise ValueError(f"pattern {pattern!r} is not a valid glob: {exc}") from None


def _segment(segment: str) -> str:
    """One path segment's glob as a regular expression that never matches ``/``."""
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := _class_end(segment, i)) != -1:
            body = segment[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            chars = re.sub(r"([\\\]^\[])", r"\\\1", body)
            out.append(f"[^/{chars}]" if negate else f"[{chars}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_end(segment: str, start: int) -> int:
    """Index of the ``]`` closing the set opened at ``start`` (``-1``: none, so ``[`` is literal);
    a ``]`` right after ``[`` or ``[!`` belongs to the set, as in fnmatch."""
    i = start + 1
    if i < len(segment) and segment[i] == "!":
        i += 1
    if i < len(segment) and segment[i] == "]":
        i += 1
    return segment.find("]", i)


__all__ = ["files"]
