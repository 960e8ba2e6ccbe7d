from __future__ import annotations

import pytest

from lakecache.cacher.fill import FetchOptions


@pytest.fixture
def lake_url(tmp_path) -> str:
    return (tmp_path / "lake").as_uri()


@pytest.fixture
def volume(tmp_path):
    root = tmp_path / "volume"
    root.mkdir()
    return root


@pytest.fixture
def small_parts() -> FetchOptions:
    """Ranged GETs already above 64 KiB, so small test files exercise the parallel path."""
    return FetchOptions(max_concurrency=4, ranged_threshold=64 << 10, part_size=32 << 10, backoff_seconds=0.01)
