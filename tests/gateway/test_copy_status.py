"""The copy-status read model: facts settle on the newest whatever their order, and facts in
another project's name never touch a copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakecache.gateway.api.caches import status_json
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.copies.status import overall_state

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SITE, COMMIT = "dgx", "c" * 64


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def view(store) -> CopyStatusView:
    view = CopyStatusView.open(store)
    await view.create_indexes()
    return view


async def request(view: CopyStatusView, seconds: float = 0, project: str = "vision") -> None:
    await view.record_request(site=SITE, commit_id=COMMIT, project=project, dataset_id="d1", dataset="cats",
                              request_id="r1", requester="user:alice", at=at(seconds))


async def fact(view: CopyStatusView, seconds: float, state: str, project: str | None = "vision", **fields) -> None:
    await view.apply_volume_fact(site=SITE, commit_id=COMMIT, volume="nfs1", at=at(seconds),
                                 fields={"state": state, **fields},
                                 identity={"project": project} if project else None)


async def state(view: CopyStatusView) -> str:
    doc = await view.get(SITE, COMMIT)
    assert doc is not None
    return overall_state(doc)


async def test_a_late_progress_event_does_not_turn_a_ready_copy_back_into_a_filling_one(view):
    await request(view)
    await fact(view, 3, "ready", path="/v/cats")
    await fact(view, 2, "filling", project=None, files_done=1)  # sent before ready, arrived after
    doc = await view.get(SITE, COMMIT)
    assert overall_state(doc) == "ready" and doc["volumes"]["nfs1"]["path"] == "/v/cats"
    assert "files_done" not in doc["volumes"]["nfs1"]


async def test_a_new_request_after_a_failure_reads_requested_until_the_cacher_answers(view):
    await request(view, 0)
    await fact(view, 1, "failed", error="disk full")
    assert await state(view) == "failed"
    await request(view, 2)
    assert await state(view) == "requested"
    await fact(view, 3, "filling", project=None)
    assert await state(view) == "filling"


async def test_facts_in_another_projects_name_leave_the_copy_as_it_was(view):
    await request(view)
    await fact(view, 1, "ready", path="/v/cats")
    before = await view.get(SITE, COMMIT)
    await fact(view, 2, "failed", project="speech", error="forged")
    await view.record_failure(site=SITE, commit_id=COMMIT, reason="forged", retryable=False, at=at(3),
                              identity={"project": "speech"})
    assert await view.get(SITE, COMMIT) == before


async def test_facts_about_copies_nobody_asked_the_gateway_for_leave_no_trace(view):
    await fact(view, 1, "ready", path="/v/cats")
    await view.record_failure(site=SITE, commit_id=COMMIT, reason="refused", retryable=False, at=at(2),
                              identity={"project": "speech"})
    assert await view.get(SITE, COMMIT) is None


async def test_a_copy_made_before_the_gateway_ran_is_adopted_from_the_cachers_answer(view):
    doc = await view.seed({"site": SITE, "volume": "nfs1", "commit_id": COMMIT, "project": "vision",
                           "dataset": "cats", "dataset_id": "d1", "state": "ready", "path": "/v/cats",
                           "pinned": True, "updated_at": at(5).isoformat(), "progress": None, "error": None})
    assert doc is not None and doc["project"] == "vision" and overall_state(doc) == "ready"
    assert doc["volumes"]["nfs1"]["pinned"] is True


async def test_a_change_wakes_the_streams_waiting_on_that_copy_only(view):
    await request(view)
    mine = view.changes.subscribe(f"{SITE}/{COMMIT}")
    other = view.changes.subscribe(f"{SITE}/{'d' * 64}")
    await fact(view, 1, "filling", project=None)
    assert mine.is_set() and not other.is_set()


async def test_a_copy_adopted_while_the_cacher_evicts_it_reads_evicting(view):
    doc = await view.seed({"site": SITE, "volume": "nfs1", "commit_id": COMMIT, "project": "vision",
                           "dataset": "cats", "dataset_id": "d1", "state": "evicting", "path": None,
                           "updated_at": at(5).isoformat()})
    assert status_json(doc).state == "evicting"
