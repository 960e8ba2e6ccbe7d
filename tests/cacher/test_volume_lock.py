"""The volume lock across concurrent fills: a fill that finds others running keeps its shared
lock, so a fill starting after the others ended cannot take the lock alone and discard the
temp files of the one still running."""

from __future__ import annotations

import fcntl
import os

from lakecache.cacher.fill.engine import _discard_leftovers_if_alone
from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.lock import open_lock_file, try_lock
from lakecache.cacher.volume.safety import open_dir, open_root


def test_a_fill_that_was_not_alone_keeps_its_shared_lock_and_its_temp_files(volume):
    layout = VolumeLayout.at(volume)
    root_fd = open_root(layout.root)
    first, second = open_lock_file(layout), open_lock_file(layout)  # two fills' holds, as volume_lock takes them
    fcntl.flock(first, fcntl.LOCK_SH)
    fcntl.flock(second, fcntl.LOCK_SH)
    try:
        _discard_leftovers_if_alone(layout, root_fd, second)  # the second starts while the first runs
        tmp_fd = open_dir(root_fd, layout.root, layout.tmp_parts, create=True)
        os.close(os.open("content.part", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=tmp_fd))  # the second's download
        os.close(first)  # the first fill ends

        third = open_lock_file(layout)
        try:
            assert not try_lock(third, exclusive=True)  # the second still holds the lock
            fcntl.flock(third, fcntl.LOCK_SH)
            _discard_leftovers_if_alone(layout, root_fd, third)
            assert os.listdir(tmp_fd) == ["content.part"]
        finally:
            os.close(third)
        os.close(tmp_fd)
    finally:
        os.close(second)
        os.close(root_fd)
