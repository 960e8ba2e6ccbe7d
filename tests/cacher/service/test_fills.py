"""Cache commands become one durable fill per (site, volume, project, commit), answered by events."""

from __future__ import annotations

import asyncio
import hashlib
import os

from lakecache.core.contracts.cache import CacheFailed, CacheFillProgress, CacheReady
from lakecache.core.vocabulary.copies import FillProgress
from tests.cacher.helpers import make_commit, raw_manifest, tree_of
from tests.cacher.service.conftest import cacher_settings, copy_path, running_cacher
from tests.support.waiting import bus_settled, eventually

FILES = {
    "README.md": b"hello\n",
    "train/a.bin": os.urandom(120_000),
    "train/b.bin": os.urandom(30_000),
    "val/x.txt": b"x" * 1000,
}
FILES["train/copy-of-b.bin"] = FILES["train/b.bin"]
UNIQUE = {hashlib.sha256(d).hexdigest(): len(d) for d in FILES.values()}


async def test_request_fills_the_volume_and_announces_ready_with_its_numbers(api, volume):
    commit = await api.commit(FILES)
    rid = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    ready = api.of(CacheReady, rid)[0].data
    view = volume / "team" / "ds" / commit
    assert ready.path == str(view) and tree_of(view) == FILES
    assert (ready.site, ready.volume, ready.commit_id, ready.project) == ("dgx", "nfs1", commit, "team")
    assert (ready.files, ready.size_bytes) == (5, sum(len(d) for d in FILES.values()))
    assert ready.bytes_fetched == sum(UNIQUE.values())
    assert ready.bytes_deduplicated == len(FILES["train/b.bin"])
    assert api.of(CacheFillProgress)[-1].data.bytes_done == ready.bytes_fetched
    copy = await api.copy(commit)
    assert (copy["state"], copy["volume"], copy["path"], copy["project"]) == ("ready", "nfs1", str(view), "team")
    assert copy["fill_id"] == ready.fill_id


async def test_sixteen_concurrent_requests_share_one_fill_and_each_gets_ready(api):
    commit = await api.commit(FILES)
    api.delay = 0.05  # slow GETs, so the requests arrive while the fill runs
    rids = await asyncio.gather(*(api.request(commit, volume="nfs1") for _ in range(16)))
    await eventually(lambda: len(api.of(CacheReady)) >= 16, message="16 cache.ready")
    await bus_settled(api.running.resources.bus)  # a 17th answer would be delivered by now
    readies = api.of(CacheReady)
    assert sorted(e.subject for e in readies) == sorted(rids)
    assert len({e.data.fill_id for e in readies}) == 1
    assert api.gets("_lakecache/manifests/") == 1
    assert api.gets("_lakecache/objects/") == len(UNIQUE)
    assert (await api.copy(commit))["state"] == "ready"


async def test_progress_events_and_the_copy_count_files_as_their_content_reaches_the_volume(api):
    pooled = os.urandom(20_000)
    first = await api.request(await api.commit({"pooled.bin": pooled}))
    await eventually(lambda: api.of(CacheReady, first), message="the first commit ready")
    parts = {f"part/{i}.bin": os.urandom(10_000 + i) for i in range(6)}
    commit = await api.commit({"pooled.bin": pooled, "pooled-again.bin": pooled, **parts})
    api.delay = 0.5  # slow GETs: the copy is seen while it fills
    rid = await api.request(commit)

    shown: list[dict] = []

    async def filling_with_progress() -> bool:
        reply = await api.call("GET", copy_path(commit))  # 404 until the command is recorded
        shown.append(reply.body)
        return reply.status == 200 and reply.body["state"] == "filling" and reply.body["progress"] is not None

    await eventually(filling_with_progress, message="the filling copy to show its progress")
    assert set(shown[-1]["progress"]) == set(FillProgress.model_fields)
    assert (shown[-1]["progress"]["files_total"], shown[-1]["progress"]["objects_total"]) == (8, 6)
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    await bus_settled(api.running.resources.bus)

    reports = [e.data.progress() for e in api.of(CacheFillProgress) if e.data.commit_id == commit]
    by_phase = {phase: [p for p in reports if p.phase == phase] for phase in ("fetching", "linking", "done")}
    assert all(by_phase.values()), [p.phase for p in reports]
    # The pooled content's two files are on the volume before anything is fetched; each
    # fetched content then adds its files, all eight before the view is linked.
    assert min(p.files_done for p in by_phase["fetching"]) == 2
    assert [p.files_done for p in by_phase["linking"] + by_phase["done"]] == [8, 8]
    assert {(p.files_total, p.objects_total) for p in reports} == {(8, 6)}


async def test_a_repeat_after_ready_answers_at_once_without_reading_the_lake(api):
    commit = await api.commit(FILES)
    first = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, first), message="first cache.ready")
    before = api.gets()
    again = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, again), message="second cache.ready")
    assert api.gets() == before
    assert api.of(CacheReady, again)[0].data.fill_id == api.of(CacheReady, first)[0].data.fill_id


async def test_hostile_manifest_fails_naming_the_paths_and_publishes_nothing(api, volume):
    evil = raw_manifest([{"path": "../../etc/passwd", "size": 4, "sha256": hashlib.sha256(b"fine").hexdigest()}])
    commit = "e" * 64
    await api.commit({"ok.txt": b"fine"}, manifest=evil, commit_id=commit)
    rid = await api.request(commit)
    await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
    failed = api.of(CacheFailed, rid)[0].data
    assert "../../etc/passwd" in failed.failed_paths and not failed.retryable
    assert not (volume / "team" / "ds" / commit).exists()
    copy = await api.copy(commit)
    assert copy["state"] == "failed" and copy["path"] is None
    assert "../../etc/passwd" in copy["error"]["failed_paths"]
    assert api.of(CacheReady) == []


async def test_a_failed_copy_is_filled_again_by_a_new_request(api, volume):
    files = {"late.txt": b"arrives later"}
    commit, _ = await make_commit(api.dataset_url() + "-scratch", files)  # the id, before the lake has it
    first = await api.request(commit)
    await eventually(lambda: api.of(CacheFailed, first), message="cache.failed: no manifest yet")
    assert "manifest" in api.of(CacheFailed, first)[0].data.reason
    assert await api.commit(files) == commit
    second = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, second), message="cache.ready on the retry")
    assert tree_of(volume / "team" / "ds" / commit) == files
    assert (await api.copy(commit))["error"] is None


async def test_a_symlinked_ready_marker_fails_the_copy_instead_of_leaving_it_filling(api, volume, tmp_path, caplog):
    commit = await api.commit(FILES)
    marker = volume / "team" / "ds" / f"{commit}.ready"
    marker.parent.mkdir(parents=True)
    marker.symlink_to(tmp_path / "elsewhere")
    rid = await api.request(commit)
    await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
    failed = api.of(CacheFailed, rid)[0].data
    assert not failed.retryable and failed.failed_paths == [str(marker)] and "symbolic link" in failed.reason
    assert (await api.copy(commit))["state"] == "failed"
    assert str(marker) in caplog.text


async def test_the_view_mode_setting_decides_who_may_read_views(tmp_path, volume):
    async with running_cacher(cacher_settings(tmp_path / "home", volume, view_mode="group")) as api:
        commit = await api.commit(FILES)
        rid = await api.request(commit)
        await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    view = volume / "team" / "ds" / commit
    assert oct(view.stat().st_mode & 0o777) == oct(0o550)
    assert oct((view / "README.md").stat().st_mode & 0o777) == oct(0o440)
