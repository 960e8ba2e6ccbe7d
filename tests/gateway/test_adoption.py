"""A copy the gateway never saw (made before it ran, or requested without it) is adopted from
its site's cacher on its first lookup, with the fill's progress exactly as the cacher answers it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lakecache.core.vocabulary.copies import FillProgress
from lakecache.gateway.api.backends import cacher_models as c
from tests.gateway.calls import call_json
from tests.gateway.stack import SITE, VOLUME, gateway_client, unreachable_upstreams

COMMIT = "c" * 64
COPY_URL = f"/api/v1/projects/vision/sites/{SITE}/copies/{COMMIT}"
#: Half way through fetching: every field differs from the others and from its default.
MID_FILL = FillProgress(phase="fetching", files_done=7, files_total=12, objects_done=3, objects_total=8,
                        bytes_done=3 << 20, bytes_total=8 << 20, rate_bytes_per_s=1.5 * (1 << 20), eta_seconds=3.25)


def cachers_copy(**changes: Any) -> dict[str, Any]:
    """A copy as the cacher answers ``GET …/copies/{commit_id}`` (its contract: ``cacher_models.Copy``)."""
    copy = c.Copy(site=SITE, volume=VOLUME, commit_id=COMMIT, project="vision", dataset="cats", dataset_id="d1",
                  state="filling", path=None, fill_id="f1", files=None, size_bytes=None, bytes_fetched=None,
                  bytes_deduplicated=None, duration_seconds=None, progress=MID_FILL.model_dump(), error=None,
                  generation=0, pinned=False, leased_until=None, requested_at="2030-01-01T00:00:00Z",
                  updated_at="2030-01-01T00:00:05Z", ready_at=None)
    return {**copy.model_dump(mode="json"), **changes}


@contextlib.asynccontextmanager
async def gateway_before(answer: dict[str, Any], auth, store) -> AsyncIterator[TestClient]:
    """A gateway whose site cacher answers ``answer`` about the copy (and nothing else)."""

    async def show_copy(request: web.Request) -> web.Response:
        return web.json_response(answer)

    cacher = web.Application()
    cacher.router.add_get("/api/v1/projects/{project}/sites/{site}/copies/{commit_id}", show_copy)
    async with TestServer(cacher) as server:
        upstreams = unreachable_upstreams()
        upstreams.cachers = {SITE: str(server.make_url("")).rstrip("/")}
        async with gateway_client(auth, store, upstreams, f"memory://adoption-{uuid.uuid4().hex[:8]}") as gateway:
            yield gateway


async def test_a_copy_adopted_in_the_middle_of_a_fill_shows_the_cachers_progress_field_for_field(auth, store, people):
    answer = cachers_copy()
    async with gateway_before(answer, auth, store) as gateway:
        status, copy = await call_json(gateway, "GET", COPY_URL, people["alice"])
    assert status == 200, copy
    assert copy["state"] == "filling" and copy["dataset"] == "cats"
    [volume] = copy["volumes"]
    assert volume["volume"] == VOLUME and volume["state"] == "filling"
    assert {name: volume[name] for name in FillProgress.model_fields} == answer["progress"] == MID_FILL.model_dump()


async def test_a_ready_copy_adopted_reads_as_one_the_events_made_ready(auth, store, people):
    answer = cachers_copy(state="ready", path="/v/cats", progress=None, files=12, size_bytes=8 << 20)
    async with gateway_before(answer, auth, store) as gateway:
        [volume] = (await call_json(gateway, "GET", COPY_URL, people["alice"]))[1]["volumes"]
    assert (volume["state"], volume["path"], volume["phase"]) == ("ready", "/v/cats", "done")
    assert volume["files_done"] == volume["files_total"] == 12
    assert volume["bytes_done"] == volume["bytes_total"] == 8 << 20


@pytest.mark.parametrize(("progress", "refusal"), [
    ({**MID_FILL.model_dump(), "files_done": -1}, "(progress.files_done: Input should be greater than or equal to 0)"),
    # Progress under other names (as the cacher once answered it) would read as zeros: refused instead.
    ({"phase": "fetching", "files": 12, "objects_done": 3, "objects_total": 8, "bytes": 3 << 20,
      "bytes_total": 8 << 20, "rate": 1.5e6, "eta": 3.25}, "(progress: Value error, the progress lacks files_done, "),
])
async def test_a_cachers_answer_outside_its_contract_is_refused_not_adopted(auth, store, people, progress, refusal):
    answer = cachers_copy(progress=progress)
    async with gateway_before(answer, auth, store) as gateway:
        status, problem = await call_json(gateway, "GET", COPY_URL, people["alice"])
        assert status == 503 and f"in a shape this gateway does not read {refusal}" in problem["detail"]
        answer["progress"] = MID_FILL.model_dump()  # the cacher fixed: the next lookup adopts it
        assert (await call_json(gateway, "GET", COPY_URL, people["alice"]))[0] == 200
