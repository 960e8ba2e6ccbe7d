"""``kill -9`` of a fill at random points of a 10,000-object commit, restarted until it completes.

Each trial fills a fresh volume from versitygw in a separate process (``crash_worker``),
kills it in planning, mid-fetch, while linking the view and while publishing it (seeded random points; set
``LAKECACHE_CRASH_SEED`` to replay other ones), and restarts it until it completes. After
every kill the volume shows no view or a complete one; at the end the view is byte-identical
to the manifest, read-only, made of pool hardlinks, nothing is left in temp or staging, and
the server saw at most two GETs per object. Per-trial details print with ``pytest -s``.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from tests.cacher.crash_trials import (
    discard_volume,
    leftovers,
    marker_path,
    synthetic_files,
    upload_commit,
    view_problems,
)
from tests.cacher.crash_trials import run_trial as run_crash_trial

pytestmark = pytest.mark.s3

OBJECTS = 10_000
TRIALS = 5
SEED = int(os.environ.get("LAKECACHE_CRASH_SEED", "20250611"))


@pytest.fixture(scope="module")
def lake_commit(s3_server, tmp_path_factory):
    """One 10,000-object commit (1-4 KB each, distinct, 400 directories), uploaded once."""
    work = tmp_path_factory.mktemp("crash-commit")
    return asyncio.run(upload_commit(s3_server, synthetic_files(OBJECTS, SEED), work))


@pytest.mark.timeout(900)  # ~35 s per trial on a busy 2-core machine, plus the upload
def test_fill_killed_at_random_points_resumes_to_an_exact_view_with_at_most_two_gets_per_object(
    lake_commit, s3_server, tmp_path
):
    assert lake_commit.objects == OBJECTS
    rng = random.Random(SEED)
    print(f"\ncrash trials: seed {SEED}, {OBJECTS} objects, commit {lake_commit.commit_id[:12]}")
    landed: set[str] = set()
    for trial in range(TRIALS):
        volume = tmp_path / f"volume-{trial}"
        volume.mkdir()
        report = run_crash_trial(trial, lake_commit, s3_server, volume, tmp_path / "logs", rng)
        print(report.describe(OBJECTS), flush=True)
        landed.update(kill.landed for kill in report.kills)

        assert marker_path(volume, lake_commit).exists()
        assert view_problems(volume, lake_commit) == []
        assert leftovers(volume) == []
        assert set(report.gets) <= lake_commit.keys, "GETs of keys outside the commit"
        assert set(report.gets) == lake_commit.keys, "every object was fetched from the lake"
        assert report.gets_max <= 2, {key: n for key, n in report.gets.items() if n > 2}
        assert report.gets_total <= 2 * OBJECTS
        discard_volume(volume)
    # The seeded points must really have hit the phases they aim at.
    assert {"planning", "fetching", "linking"} <= landed, landed
