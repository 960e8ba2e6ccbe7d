"""Reads of a view seen in access times (``volume.reads``), on views the real fill made in a temp
directory. The temp directory's filesystem is this machine's root (ext4, ``relatime``): a read
moves an access time only once it was armed, which is what these tests rely on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lakecache.cacher.fill import FetchOptions, fill_commit
from lakecache.cacher.volume import VolumeLayout
from lakecache.cacher.volume.reads import look
from lakecache.cacher.volume.safety import UnsafeVolumePath
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import join_url
from tests.cacher.helpers import chunks, make_commit

SHARED = os.urandom(5000)
TEAM = {"train/a.bin": os.urandom(3000), "train/b.bin": os.urandom(3000), "shared.bin": SHARED}
OTHER = {"shared.bin": SHARED, "mine.bin": os.urandom(100)}


@pytest.fixture(autouse=True)
def atime_moves(tmp_path) -> None:
    """This machine's filesystem updates access times of armed files (not ``noatime``)."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    info = os.stat(probe)
    os.utime(probe, ns=(info.st_mtime_ns - 10**9, info.st_mtime_ns))
    probe.read_bytes()
    if os.stat(probe).st_atime_ns <= info.st_mtime_ns:
        reason = f"{tmp_path} is on a filesystem mounted noatime: reads leave no trace there"
        if os.environ.get("CI") == "true":  # CI's disk is relatime: a skip there would hide a broken sampler
            pytest.fail(reason)
        pytest.skip(reason)
    probe.unlink()


async def fill(volume: Path, lake_url: str, project: str, files: dict[str, bytes]) -> str:
    location = join_url(lake_url, project, "ds")
    commit, manifest = await make_commit(location, files)
    await fill_commit(volume, project, "ds", commit, chunks(manifest), object_store_from_url, lake_url=location,
                      parents=[], options=FetchOptions(attempts=2, backoff_seconds=0.01))
    return commit


@pytest.fixture
async def views(volume, lake_url) -> tuple[str, str]:
    """``team``'s commit and ``other``'s, filled on the volume; they share the content of ``shared.bin``."""
    return await fill(volume, lake_url, "team", TEAM), await fill(volume, lake_url, "other", OTHER)


def look_at(volume: Path, project: str, commit: str, *, baseline: bool = False):
    return look(VolumeLayout.at(volume), project, "ds", commit, baseline=baseline)


def test_the_first_look_only_arms_then_an_unread_view_shows_nothing(volume, views):
    team, _ = views
    view = volume / "team" / "ds" / team
    (view / "train" / "a.bin").read_bytes()  # before the first look: like the fill's own reads
    os.listdir(view)

    first = look_at(volume, "team", team, baseline=True)
    assert first.read_at_ns is None and (first.directories_read, first.files_read) == (0, 0)
    assert (first.directories, first.own_files) == (2, 2)  # the view and train/; a.bin and b.bin
    assert look_at(volume, "team", team).read_at_ns is None


def test_a_plain_read_of_a_file_only_this_copy_holds_is_seen_at_its_access_time(volume, views):
    team, _ = views
    look_at(volume, "team", team, baseline=True)
    before = time.time_ns()
    path = volume / "team" / "ds" / team / "train" / "b.bin"
    with open(path, "rb") as job:
        assert job.read() == TEAM["train/b.bin"]
    read_at = os.stat(path).st_atime_ns

    seen = look_at(volume, "team", team)
    assert seen.files_read == 1 and seen.directories_read == 0
    assert seen.read_at_ns == read_at and before - 10**8 <= read_at <= time.time_ns()
    assert look_at(volume, "team", team).read_at_ns is None  # armed again: that read is counted once
    path.read_bytes()
    assert look_at(volume, "team", team).files_read == 1  # and the next read moves it again


def test_listing_a_view_directory_is_a_read(volume, views):
    team, _ = views
    look_at(volume, "team", team, baseline=True)
    assert sorted(os.listdir(volume / "team" / "ds" / team / "train")) == ["a.bin", "b.bin"]

    seen = look_at(volume, "team", team)
    assert (seen.directories_read, seen.files_read) == (1, 0) and seen.read_at_ns is not None
    assert look_at(volume, "team", team).read_at_ns is None  # the look's own listing is not one


def test_a_read_of_content_other_copies_share_is_nobodys(volume, views):
    team, other = views
    shared = volume / "team" / "ds" / team / "shared.bin"
    assert os.stat(shared).st_nlink == 3  # the pool, team's view, other's view
    for project, commit in views_of(team, other):
        look_at(volume, project, commit, baseline=True)
    assert shared.read_bytes() == SHARED

    for project, commit in views_of(team, other):
        assert look_at(volume, project, commit).read_at_ns is None, project
    assert (volume / "other" / "ds" / other / "mine.bin").read_bytes() == OTHER["mine.bin"]
    assert look_at(volume, "team", team).read_at_ns is None
    assert look_at(volume, "other", other).files_read == 1


def views_of(team: str, other: str) -> list[tuple[str, str]]:
    return [("team", team), ("other", other)]


def test_links_in_a_view_are_not_followed_nor_their_targets_touched(volume, views, tmp_path):
    team, _ = views
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    target = outside / "dir" / "file"
    target.write_bytes(b"not LakeCache's")
    view = volume / "team" / "ds" / team
    view.chmod(0o755)  # as an intruder with the cacher's rights could; views are published read-only
    (view / "to-dir").symlink_to(outside / "dir")
    (view / "to-file").symlink_to(target)
    view.chmod(0o555)
    look_at(volume, "team", team, baseline=True)
    os.listdir(outside / "dir")
    target.read_bytes()
    touched = {p: os.stat(p) for p in (outside / "dir", target)}

    seen = look_at(volume, "team", team)
    assert seen.read_at_ns is None and seen.directories == 2 and seen.own_files == 2
    for path, info in touched.items():  # read and not armed: their access times are as the reads left them
        assert os.stat(path).st_atime_ns == info.st_atime_ns > info.st_mtime_ns, path


def test_a_link_on_the_way_to_a_view_is_refused(volume, views, tmp_path):
    team, _ = views
    elsewhere = tmp_path / "elsewhere"
    (volume / "team").rename(elsewhere)
    (volume / "team").symlink_to(elsewhere)
    with pytest.raises(UnsafeVolumePath, match="symbolic link"):
        look_at(volume, "team", team, baseline=True)
