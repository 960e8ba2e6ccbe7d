"""The copy-status read model: facts settle on the newest whatever their order, and a copy is
one project's: facts about another project's copy of the same commit never touch it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakecache.gateway.api.caches import status_json
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.copies.status import overall_state, status_id

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


async def fact(view: CopyStatusView, seconds: float, state: str, project: str = "vision", **fields) -> None:
    await view.apply_volume_fact(site=SITE, project=project, commit_id=COMMIT, volume="nfs1", at=at(seconds),
                                 fields={"state": state, **fields})


async def state(view: CopyStatusView, project: str = "vision") -> str:
    doc = await view.get(SITE, project, COMMIT)
    assert doc is not None
    return overall_state(doc)


async def test_a_late_progress_event_does_not_turn_a_ready_copy_back_into_a_filling_one(view):
    await request(view)
    await fact(view, 3, "ready", path="/v/cats")
    await fact(view, 2, "filling", files_done=1)  # sent before ready, arrived after
    doc = await view.get(SITE, "vision", COMMIT)
    assert overall_state(doc) == "ready" and doc["volumes"]["nfs1"]["path"] == "/v/cats"
    assert "files_done" not in doc["volumes"]["nfs1"]


async def test_a_new_request_after_a_failure_reads_requested_until_the_cacher_answers(view):
    await request(view, 0)
    await fact(view, 1, "failed", error="disk full")
    assert await state(view) == "failed"
    await request(view, 2)
    assert await state(view) == "requested"
    await fact(view, 3, "filling")
    assert await state(view) == "filling"


async def test_another_projects_copy_of_the_same_commit_is_another_document(view):
    await request(view)
    await fact(view, 1, "ready", path="/v/cats")
    before = await view.get(SITE, "vision", COMMIT)
    await request(view, 2, project="speech")
    await fact(view, 3, "failed", project="speech", error="refused")
    await view.record_failure(site=SITE, project="speech", commit_id=COMMIT, reason="forged", retryable=False,
                              at=at(4))
    await view.set_pinned(site=SITE, project="speech", commit_id=COMMIT, volume="nfs1", pinned=True, at=at(5))
    assert await view.get(SITE, "vision", COMMIT) == before
    speech = await view.get(SITE, "speech", COMMIT)
    assert speech["project"] == "speech" and await state(view, "speech") == "failed"
    assert speech["volumes"]["nfs1"]["pinned"] is True and status_json(speech).links["self"] == (
        f"/api/v1/projects/speech/sites/{SITE}/copies/{COMMIT}")


async def test_facts_about_copies_nobody_asked_the_gateway_for_leave_no_trace(view):
    await fact(view, 1, "ready", path="/v/cats")
    await view.record_failure(site=SITE, project="speech", commit_id=COMMIT, reason="refused", retryable=False,
                              at=at(2))
    assert await view.get(SITE, "vision", COMMIT) is None
    assert await view.get(SITE, "speech", COMMIT) is None


async def test_a_copy_made_before_the_gateway_ran_is_adopted_from_the_cachers_answer(view):
    doc = await view.seed({"site": SITE, "volume": "nfs1", "commit_id": COMMIT, "project": "vision",
                           "dataset": "cats", "dataset_id": "d1", "state": "ready", "path": "/v/cats",
                           "pinned": True, "updated_at": at(5).isoformat(), "progress": None, "error": None})
    assert doc is not None and doc["project"] == "vision" and overall_state(doc) == "ready"
    assert doc["volumes"]["nfs1"]["pinned"] is True


async def test_a_change_wakes_the_streams_waiting_on_that_copy_only(view):
    await request(view)
    mine = view.changes.subscribe(status_id(SITE, "vision", COMMIT))
    other_commit = view.changes.subscribe(status_id(SITE, "vision", "d" * 64))
    other_project = view.changes.subscribe(status_id(SITE, "speech", COMMIT))
    await fact(view, 1, "filling")
    assert mine.is_set() and not other_commit.is_set() and not other_project.is_set()


async def test_a_copy_adopted_while_the_cacher_evicts_it_reads_evicting(view):
    doc = await view.seed({"site": SITE, "volume": "nfs1", "commit_id": COMMIT, "project": "vision",
                           "dataset": "cats", "dataset_id": "d1", "state": "evicting", "path": None,
                           "updated_at": at(5).isoformat()})
    assert status_json(doc).state == "evicting"


async def test_documents_kept_one_per_commit_before_copies_were_per_project_are_dropped(view):
    await request(view)
    await view.collection.insert_one({"_id": f"{SITE}/{COMMIT}", "site": SITE, "commit_id": COMMIT,
                                      "project": "vision", "volumes": {}, "version": 0, "updated_at": at(0)})

    assert await view.drop_old_layout() == 1

    assert await view.collection.find_one({"_id": f"{SITE}/{COMMIT}"}) is None
    assert await view.get(SITE, "vision", COMMIT) is not None
