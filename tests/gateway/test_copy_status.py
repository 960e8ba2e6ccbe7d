"""The copy-status read model: facts settle on the newest whatever their order, and a copy is
one project's: facts about another project's copy of the same commit never touch it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import CacheFillProgress, CacheRequested
from lakecache.core.contracts.topics import CACHE_COMMANDS
from lakecache.core.outbox import Outbox
from lakecache.core.ports.bus import Message
from lakecache.core.publishing import EventPublisher
from lakecache.core.vocabulary.copies import FillProgress
from lakecache.gateway.api.caches import status_json
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.copies.handlers import on_progress
from lakecache.gateway.copies.status import overall_state, status_id
from lakecache.gateway.repositories.copy_status import COLLECTION
from tests.support.waiting import bus_settled

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SITE, COMMIT = "dgx", "c" * 64


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def bus():
    async with InMemoryEventBus.from_url("memory://copy-status") as bus:
        yield bus


@pytest.fixture
async def view(store, bus) -> CopyStatusView:
    view = CopyStatusView.open(store, Outbox(store, EventPublisher(bus, "gateway")))
    await view.create_indexes()
    return view


async def request(view: CopyStatusView, seconds: float = 0, project: str = "vision") -> None:
    await view.record_request(CacheRequested(request_id="r1", project=project, dataset_id="d1", dataset="cats",
                                             commit_id=COMMIT, site=SITE, requester="user:alice"), at=at(seconds))


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


async def test_a_progress_event_is_kept_as_the_fill_progress_it_announces(view):
    await request(view)
    data = CacheFillProgress(fill_id="f1", site=SITE, volume="nfs1", commit_id=COMMIT, project="vision", files_done=7,
                             files_total=12, bytes_done=3 << 20, bytes_total=8 << 20, rate_bytes_per_s=2.5e6,
                             eta_seconds=2.0, phase="linking", objects_done=3, objects_total=8)
    await on_progress(Event(data=data, source="/lakecache/cacher", time=at(1)), view)
    [volume] = status_json(await view.get(SITE, "vision", COMMIT)).volumes
    assert volume.state == "filling"
    assert {name: getattr(volume, name) for name in FillProgress.model_fields} == data.progress().model_dump()


async def test_a_recorded_request_is_sent_to_the_sites_cacher_with_it(view, bus):
    sent: list[Message] = []

    async def received(message: Message) -> None:
        sent.append(message)

    await bus.subscribe([CACHE_COMMANDS.for_site(SITE).name], group="cacher", handler=received)
    await request(view)
    await bus_settled(bus)
    [command] = sent
    assert command.header("ce_type") == CacheRequested.event_type.encode() and command.header("ce_subject") == b"r1"
    doc = await view.get(SITE, "vision", COMMIT)
    assert doc["request_id"] == "r1" and doc.get("pending_events") == []  # delivered: nothing left to relay


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


async def test_documents_kept_one_per_commit_before_copies_were_per_project_are_dropped(view, store):
    await request(view)
    statuses = store.collection(COLLECTION)
    await statuses.insert_one({"_id": f"{SITE}/{COMMIT}", "site": SITE, "commit_id": COMMIT, "project": "vision",
                               "volumes": {}, "version": 0, "updated_at": at(0)})

    assert await view.drop_old_layout() == 1

    assert await statuses.find_one({"_id": f"{SITE}/{COMMIT}"}) is None
    assert await view.get(SITE, "vision", COMMIT) is not None
