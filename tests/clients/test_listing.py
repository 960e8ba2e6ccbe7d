"""``lakecache.files``: the regular files of a view, sorted the same on every host, by glob,
never through a link."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import lakecache
from lakecache.core.paths import sort_key

TREE = ["b.txt", "a", "a-b/c.png", "a/b/deep.png", "a/x.png", "train/cat/1.png", "train/cat/10.png",
        "train/cat/2.png", "train/dog/1.PNG", ".hidden", "train/.cache/x.png", "Ä.png"]


def make(root: Path, paths: list[str]) -> Path:
    order = list(paths)
    random.Random(7).shuffle(order)  # creation order must not show through
    for relative in order:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(relative.encode())
    return root


def names(root: Path, found: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in found]


def test_every_regular_file_in_the_order_data_ls_shows(tmp_path):
    # "a" is a file and "a/..." a directory cannot coexist in a commit; use "a-b" vs "a/" instead.
    root = make(tmp_path / "view", [p for p in TREE if p != "a"])
    found = lakecache.files(root)
    assert all(isinstance(p, Path) and p.is_file() for p in found)
    assert found[0] == root / ".hidden"
    listed = names(root, found)
    assert sorted(listed, key=sort_key) == listed
    assert listed == [".hidden", "a/b/deep.png", "a/x.png", "a-b/c.png", "b.txt", "train/.cache/x.png",
                      "train/cat/1.png", "train/cat/10.png", "train/cat/2.png", "train/dog/1.PNG", "Ä.png"]


def test_the_order_does_not_depend_on_how_the_tree_was_written(tmp_path):
    paths = [f"d{i % 7}/f{i}.bin" for i in range(200)]
    one = make(tmp_path / "one", paths)
    two = make(tmp_path / "two", list(reversed(paths)))
    assert names(one, lakecache.files(one)) == names(two, lakecache.files(two))


@pytest.mark.parametrize(("pattern", "expected"), [
    ("*.txt", ["b.txt"]),
    ("**/*.png", ["a-b/c.png", "train/.cache/x.png", "train/cat/1.png", "train/cat/10.png", "train/cat/2.png",
                  "Ä.png"]),
    ("train/**", ["train/.cache/x.png", "train/cat/1.png", "train/cat/10.png", "train/cat/2.png",
                  "train/dog/1.PNG"]),
    ("train/*/?.png", ["train/.cache/x.png", "train/cat/1.png", "train/cat/2.png"]),
    ("train/[!c]*/*", ["train/.cache/x.png", "train/dog/1.PNG"]),
    ("train/[cd]*/1.[Pp][Nn][Gg]", ["train/cat/1.png", "train/dog/1.PNG"]),
    ("**/1*", ["train/cat/1.png", "train/cat/10.png", "train/dog/1.PNG"]),
    ("a", ["a"]),
    ("b.txt/**", []),
    ("[a.txt", []),  # an unclosed '[' is a literal character
])
def test_a_glob_matches_the_whole_relative_path(tmp_path, pattern, expected):
    root = make(tmp_path / "view", [p for p in TREE if not p.startswith("a/")])
    assert names(root, lakecache.files(root, pattern)) == expected


def test_double_star_matches_no_directory_too(tmp_path):
    root = make(tmp_path / "view", ["x.png", "a/x.png", "a/b/x.png"])
    assert names(root, lakecache.files(root, "**/x.png")) == ["a/b/x.png", "a/x.png", "x.png"]
    assert names(root, lakecache.files(root, "a/**/x.png")) == ["a/b/x.png", "a/x.png"]


def test_links_are_never_followed_nor_listed(tmp_path):
    outside = make(tmp_path / "outside", ["secret.png", "dir/more.png"])
    root = make(tmp_path / "view", ["train/ok.png"])
    (root / "train" / "file-link.png").symlink_to(outside / "secret.png")
    (root / "train" / "dir-link").symlink_to(outside / "dir", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.png").symlink_to(tmp_path / "nowhere")
    os.mkfifo(root / "train" / "pipe.png")
    assert names(root, lakecache.files(root)) == ["train/ok.png"]


def test_a_linked_root_is_listed_through_its_link(tmp_path):
    # The caller chose the root (a view path may itself be reached through a link); below it, nothing is followed.
    real = make(tmp_path / "real", ["a/1.png"])
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert lakecache.files(tmp_path / "alias") == [tmp_path / "alias" / "a" / "1.png"]


@pytest.mark.parametrize("pattern", ["", "/etc/*", "../*", "a/../b", "a//b", "./x", "[z-a]"])
def test_a_pattern_outside_the_view_or_malformed_is_refused(tmp_path, pattern):
    with pytest.raises(ValueError, match="pattern"):
        lakecache.files(tmp_path, pattern)


def test_a_missing_root_fails_rather_than_listing_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        lakecache.files(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        lakecache.files(tmp_path / "file")


def test_an_unreadable_directory_fails_rather_than_listing_part(tmp_path, monkeypatch):
    # Injected: CI runs as root, which reads every directory whatever its mode.
    root = make(tmp_path / "view", ["a/1.png", "b/2.png"])
    scandir = os.scandir

    def refusing(path):
        if Path(path) == root / "b":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.raises(PermissionError):
        lakecache.files(root)


def test_importing_lakecache_does_not_load_the_listing():
    code = ("import sys, lakecache; assert 'lakecache.sdk.listing' not in sys.modules; "
            "f = lakecache.files; assert 'lakecache.sdk.listing' in sys.modules; print(f.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "files"), done.stderr
