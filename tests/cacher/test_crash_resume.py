"""``kill -9`` of a fill at random points of a 10,000-object commit, restarted until it completes.

Each trial fills a fresh volume from versitygw in a separate process (``crash_worker``),
kills it in planning, mid-fetch, while linking the view and while publishing it (seeded random points; set
``LAKECACHE_CRASH_SEED`` to replay other ones), and restarts it until it completes. After
every kill the volume shows no view or a complete one; at the end the view is byte-identical
to the manifest, read-only, made of pool hardlinks, nothing is left in temp or staging, and
the server saw at most two GETs per object. A second test kills a fill of large objects
(parallel ranged GETs, streamed and hashed as they arrive) mid-transfer: each is fetched at
most twice. Per-trial details print with ``pytest -s``.
"""

from __future__ import annotations

import asyncio
import math
import os
import random

import pytest

from lakecache.cacher.fill import FetchOptions
from tests.cacher.crash_trials import (
    Kill,
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


LARGE_OBJECTS, LARGE_SIZE = 8, 20 * 2**20  # above the fill's ranged_threshold: parallel ranged GETs


@pytest.mark.timeout(300)
def test_fill_killed_while_large_objects_stream_resumes_exactly_with_at_most_two_fetches_of_each(
    s3_server, tmp_path
):
    # Large objects reach the fill's sink part by part, written and hashed as they arrive: a
    # kill lands with several of them half-written in the temp directory. The restarted fill
    # must discard those, fetch each again whole (at most twice its parts in all) and publish
    # an exact view.
    options = FetchOptions()
    assert LARGE_SIZE > options.ranged_threshold
    parts = math.ceil((LARGE_SIZE + 1) / options.part_size)  # the fill asks for size + 1 bytes
    rng = random.Random(SEED)
    files = [(f"big/{i}.bin", i.to_bytes(8, "big") + rng.randbytes(LARGE_SIZE - 8)) for i in range(LARGE_OBJECTS)]
    commit = asyncio.run(upload_commit(s3_server, files, tmp_path / "commit"))
    volume = tmp_path / "volume"
    volume.mkdir()
    # Two objects stream at a time (each in parallel parts): once half are done, the next
    # ones are mid-transfer, and the kill cannot come after the last one has landed.
    report = run_crash_trial(0, commit, s3_server, volume, tmp_path / "logs", rng, concurrency=2,
                             kills=[Kill("fetching", "0.5")])
    print(report.describe(LARGE_OBJECTS), flush=True)

    assert report.kills[0].landed == "fetching", report.kills[0]
    assert 0 < report.kills[0].objects_done < LARGE_OBJECTS
    assert report.starts == 2
    assert marker_path(volume, commit).exists()
    assert view_problems(volume, commit) == []
    assert leftovers(volume) == []
    assert set(report.gets) == commit.keys
    assert report.gets_max <= 2 * parts, report.gets
    assert any(n > parts for n in report.gets.values()), "some object was fetched again after the kill"
