"""``lakecache.start_run``: the buffer and its overflow policy, batch limits, retries with the same
batch key, refusals, finishing (by the ``with`` block, by ``finish_timeout``, at interpreter exit),
what a run records about itself; and ``RunCalls``' artifact streaming. Against a fake gateway
that serves the run routes on its own thread and records what it received."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

import lakecache
from lakecache.sdk import run_buffer, run_context, tracking
from lakecache.sdk.gateway import GatewayClient, GatewayNotFound, GatewayUnavailable
from lakecache.sdk.run_buffer import DROPPED_TAG, RunBuffer, backoff_delay
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.tracking import start_run

PROJECT = "team"
COMMIT = "ab" * 32


class FakeGateway:
    """The gateway's run routes, enough for the SDK. ``/log`` stores a batch once per key (as the
    tracker does) and can be told to fail (503), refuse (400) or hold its next requests."""

    def __init__(self) -> None:
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.stored: dict[str, dict[str, Any]] = {}  # batch key -> first body received
        self.received: list[dict[str, Any]] = []  # every /log body, retries included
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.finished: dict[str, str] = {}
        self.artifacts: dict[str, bytes] = {}
        self.put_headers: list[dict[str, str]] = []
        self.fail_next = 0  # /log answers 503 this many times
        self.refuse_next = 0  # /log answers 400 this many times
        self.max_points = 1000  # /log answers 413 to more points than this
        self.too_large = 0
        self.created_elsewhere: str | None = None  # an experiment another job creates just before ours
        self.held = threading.Event()
        self.held.set()
        self.identity: dict[str, Any] = {"kind": "user", "name": "ada"}  # who GET /me says the token is

    # what the tests read

    def points(self, run_id: str | None = None) -> list[tuple[str, int, Any]]:
        """Stored points, in the order their batches were first received: ``(key, step, value)``."""
        return [(m["key"], m["step"], m["value"]) for body in self.stored.values()
                if run_id is None or body["run_id"] == run_id for m in body.get("metrics", [])]

    def stored_tags(self) -> dict[str, str]:
        return {k: v for body in self.stored.values() for k, v in body.get("tags", {}).items()}

    def stored_params(self) -> dict[str, Any]:
        return {k: v for body in self.stored.values() for k, v in body.get("params", {}).items()}

    # routes

    def app(self) -> web.Application:
        app = web.Application()
        project = "/api/v1/projects/{project}"
        run = project + "/runs/{run_id}"
        app.router.add_get("/api/v1/me", self.me)
        app.router.add_get(project + "/experiments", self.find_experiment)
        app.router.add_post(project + "/experiments", self.create_experiment)
        app.router.add_post(project + "/runs", self.start_run)
        app.router.add_post(run + "/log", self.log)
        app.router.add_post(run + "/inputs", self.record)
        app.router.add_post(run + "/outputs", self.record)
        app.router.add_post(run + "/finish", self.finish)
        app.router.add_put(run + "/artifacts/{path:.+}", self.put_artifact)
        app.router.add_get(run + "/artifacts/{path:.+}", self.get_artifact)
        return app

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response(self.identity)

    async def find_experiment(self, request: web.Request) -> web.Response:
        name = request.query["name"]
        if self.created_elsewhere == name:  # our read misses it; our create then conflicts
            self.created_elsewhere = None
            self.experiments[name] = {"id": "exp-elsewhere", "name": name, "project": PROJECT}
            return web.json_response({"items": [], "next_cursor": None})
        found = self.experiments.get(name)
        return web.json_response({"items": [found] if found else [], "next_cursor": None})

    async def create_experiment(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["name"] in self.experiments:
            return web.json_response({"title": "Conflict", "detail": "taken"}, status=409)
        self.experiments[body["name"]] = {"id": uuid.uuid4().hex, "name": body["name"], "project": PROJECT}
        return web.json_response(self.experiments[body["name"]], status=201)

    async def start_run(self, request: web.Request) -> web.Response:
        body = await request.json()
        run_id = uuid.uuid4().hex
        self.runs[run_id] = {**body, "id": run_id, "project": request.match_info["project"], "status": "running"}
        return web.json_response(self.runs[run_id], status=201)

    async def log(self, request: web.Request) -> web.Response:
        body = {**await request.json(), "run_id": request.match_info["run_id"]}
        self.received.append(body)
        if not self.held.is_set():
            await asyncio.to_thread(self.held.wait, 10)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"title": "Unavailable", "detail": "the bus is down"}, status=503)
        if len(body.get("metrics", [])) > self.max_points:
            self.too_large += 1
            return web.json_response({"title": "Content Too Large", "detail": "body too large"}, status=413)
        too_many = (len(body.get("metrics", [])) > 1000 or len(body.get("params", {})) > 100
                    or len(body.get("tags", {})) > 100)
        if self.refuse_next or too_many:
            self.refuse_next = max(0, self.refuse_next - 1)
            return web.json_response({"title": "Bad Request", "detail": "refused batch"}, status=400)
        self.stored.setdefault(body["batch"], body)
        return web.json_response({"batch": body["batch"]}, status=202)

    async def record(self, request: web.Request) -> web.Response:
        self.records.append((request.path.rsplit("/", 1)[-1], await request.json()))
        return web.json_response({"run_id": request.match_info["run_id"]}, status=202)

    async def finish(self, request: web.Request) -> web.Response:
        body = await request.json()
        run_id = request.match_info["run_id"]
        self.finished[run_id] = body["status"]
        return web.json_response({**self.runs[run_id], "status": body["status"], "end_time": body.get("end_time")})

    async def put_artifact(self, request: web.Request) -> web.Response:
        self.put_headers.append(dict(request.headers))
        data = await request.read()
        self.artifacts[request.match_info["path"]] = data
        return web.json_response({"path": request.match_info["path"], "size": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest()}, status=201)

    async def get_artifact(self, request: web.Request) -> web.Response:
        data = self.artifacts.get(request.match_info["path"])
        if data is None:
            return web.json_response({"title": "Not Found", "detail": "no such artifact"}, status=404)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return web.Response(body=data, headers={"Digest": f"sha-256={digest}"})


@contextlib.contextmanager
def serving(fake: FakeGateway) -> Iterator[str]:
    """``fake`` on 127.0.0.1 from its own thread (the SDK under test is synchronous); its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(fake.app())

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def gateway_url(fake) -> Iterator[str]:
    with serving(fake) as url:
        yield url


@pytest.fixture
def settings(gateway_url, tmp_path) -> ClientSettings:
    return ClientSettings(api_url=gateway_url, token=SecretStr("lct_test"), home=tmp_path / "home",
                          request_timeout=10)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch) -> None:
    monkeypatch.setattr(run_buffer, "RETRY_INITIAL_SECONDS", 0.01)
    monkeypatch.setattr(run_buffer, "RETRY_MAX_SECONDS", 0.05)


def a_run(settings: ClientSettings, **options: Any) -> tracking.Run:
    return start_run(**{"project": PROJECT, "experiment": "exp", "settings": settings, "flush_seconds": 0.02,
                        "sample_seconds": 0, **options})


def wait_for(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


# the buffer

def test_a_full_buffer_drops_the_oldest_points_and_warns_once_per_burst(caplog):
    buffer = RunBuffer(10)
    with caplog.at_level(logging.WARNING, logger="lakecache.sdk.tracking"):
        for step in range(25):
            buffer.add_point("loss", float(step), step, 0)
    assert buffer.dropped == 15
    batch = buffer.take()
    assert [p[3] for p in batch.points] == list(range(15, 25))  # the newest ten
    buffer.settle(batch)
    warnings = [r for r in caplog.records if "full" in r.getMessage()]
    assert len(warnings) == 1 and DROPPED_TAG in warnings[0].getMessage()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lakecache.sdk.tracking"):
        for step in range(11):  # drained, then full again: a new burst
            buffer.add_point("loss", float(step), step, 0)
    assert buffer.dropped == 16 and len([r for r in caplog.records if "full" in r.getMessage()]) == 1


def test_params_and_tags_are_never_dropped_for_room():
    buffer = RunBuffer(5)
    buffer.add_params({f"p{i}": i for i in range(250)})
    for step in range(20):
        buffer.add_point("loss", 1.0, step, 0)
    buffer.add_tags({f"t{i}": "x" for i in range(150)})
    params: dict[str, Any] = {}
    tags: dict[str, str] = {}
    points = []
    while (batch := buffer.take()) is not None:
        assert len(batch.points) <= 1000 and len(batch.params) <= 100 and len(batch.tags) <= 100
        params.update(batch.params)
        tags.update(batch.tags)
        points += batch.points
        buffer.settle(batch)
    assert len(params) == 250 and len(tags) == 150
    assert [p[3] for p in points] == list(range(15, 20)) and buffer.dropped == 15


def test_flush_waits_for_the_batch_in_flight_not_only_the_buffer():
    buffer = RunBuffer(100)
    buffer.add_point("loss", 1.0, 0, 0)
    mark = buffer.mark()
    batch = buffer.take()
    assert buffer.pending() == 1 and not buffer.wait_sent(mark, 0)
    buffer.settle(batch)
    assert buffer.wait_sent(mark, 0) and buffer.pending() == 0


def test_backoff_doubles_from_half_a_second_to_thirty_with_jitter(monkeypatch):
    monkeypatch.setattr(run_buffer, "RETRY_INITIAL_SECONDS", 0.5)
    monkeypatch.setattr(run_buffer, "RETRY_MAX_SECONDS", 30.0)
    for attempt, base in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (60, 30.0)]:
        delays = [backoff_delay(attempt) for _ in range(200)]
        assert all(0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(set(delays)) > 1  # jittered: jobs that failed together do not retry together


# sending

def test_batches_respect_the_limits_and_everything_arrives_once(fake, settings):
    with a_run(settings) as run:
        run.log_params({f"p{i}": i for i in range(250)})
        run.set_tags({f"t{i}": f"v{i}" for i in range(150)})
        for step in range(2500):
            run.log_metric("loss", step / 10, step=step)
        assert run.flush(timeout=5)
    assert all(len(b.get("metrics", [])) <= 1000 and len(b.get("params", {})) <= 100 and len(b.get("tags", {})) <= 100
               for b in fake.received)
    assert sorted(fake.points(run.id)) == [("loss", s, s / 10) for s in range(2500)]
    assert len(fake.received) == len(fake.stored)  # nothing sent twice
    assert fake.stored_params() == {f"p{i}": i for i in range(250)}
    assert {k: v for k, v in fake.stored_tags().items() if k.startswith("t")} == {f"t{i}": f"v{i}" for i in
                                                                                  range(150)}
    assert fake.finished == {run.id: "finished"} and DROPPED_TAG not in fake.stored_tags()


def test_a_failing_gateway_gets_the_same_batch_again_until_it_takes_it(fake, settings, caplog):
    fake.fail_next = 3
    with caplog.at_level(logging.WARNING, logger="lakecache.sdk.tracking"), a_run(settings) as run:
        for step in range(1500):
            run.log_metric("acc", step, step=step)
        assert run.flush(timeout=5)
    first = fake.received[0]["batch"]
    assert [b["batch"] for b in fake.received[:4]] == [first] * 4  # three 503s, then taken
    assert len({b["batch"] for b in fake.received}) == len(fake.stored)
    assert sorted(fake.points()) == [("acc", s, s) for s in range(1500)]  # nothing lost, nothing twice
    assert len([r for r in caplog.records if "sending again" in r.getMessage()]) == 1  # one warning per outage
    assert fake.finished[run.id] == "finished"


def test_a_batch_too_large_for_the_gateway_goes_in_halves(fake, settings):
    fake.max_points = 300
    with a_run(settings) as run:
        run.log_params({"lr": 0.1})
        for step in range(1000):
            run.log_metric("loss", step, step=step)
        assert run.flush(timeout=5)
        too_large = fake.too_large
        for step in range(1000, 3000):
            run.log_metric("loss", step, step=step)
    assert fake.too_large == too_large  # later batches are cut to the size that passed
    assert sorted(fake.points()) == [("loss", s, s) for s in range(3000)] and run.dropped_points == 0
    assert all(len(b["metrics"]) <= 300 for b in fake.stored.values())
    assert fake.stored_params() == {"lr": 0.1}
    assert any(key.count(".") == 2 for key in fake.stored)  # halves of halves


def test_a_refused_batch_is_dropped_counted_and_logged_once(fake, settings, caplog):
    fake.refuse_next = 2
    with caplog.at_level(logging.ERROR, logger="lakecache.sdk.tracking"), a_run(settings) as run:
        for step in range(3):
            run.log_metric("loss", 1.0, step=step)
            assert run.flush(timeout=5)  # one batch each
        run.log_metric("loss", 2.0, step=3)
    assert fake.points() == [("loss", 2, 1.0), ("loss", 3, 2.0)]
    assert run.dropped_points == 2 and fake.stored_tags()[DROPPED_TAG] == "2"
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "refused batch" in refusals[0].getMessage()
    assert fake.finished[run.id] == "finished"


def test_overflow_while_the_gateway_stalls_drops_the_oldest_and_reports_the_count(fake, settings):
    fake.held.clear()
    run = a_run(settings, buffer_size=10)
    run.log_metric("loss", -1.0, step=0)
    wait_for(lambda: len(fake.received) == 1, "the first batch to be in flight")
    for step in range(1, 31):
        run.log_metric("loss", float(step), step=step)
    assert run.dropped_points == 20
    fake.held.set()
    assert run.finish()["status"] == "finished"
    assert fake.points() == [("loss", 0, -1.0)] + [("loss", s, float(s)) for s in range(21, 31)]
    assert fake.stored_tags()[DROPPED_TAG] == "20"


@pytest.mark.parametrize(("raised", "status"), [(None, "finished"), (RuntimeError, "failed"),
                                                (KeyboardInterrupt, "killed")])
def test_leaving_the_block_finishes_the_run_by_how_it_ended(fake, settings, raised, status):
    with contextlib.suppress(BaseException), a_run(settings) as run:
        run.log_metric("loss", 0.5)
        if raised:
            raise raised("stop")
    assert fake.finished == {run.id: status} and fake.points() == [("loss", 0, 0.5)]
    with pytest.raises(RuntimeError, match="has ended"):
        run.log_metric("loss", 0.4)
    assert run.finish() is None  # once is enough


def test_finish_gives_up_after_finish_timeout_when_the_gateway_stays_down(fake, settings, caplog, monkeypatch):
    monkeypatch.setattr(tracking, "FINISH_GRACE_SECONDS", 0.2)
    fake.fail_next = 10**9
    run = a_run(settings, finish_timeout=0.3)
    run.log_metric("loss", 0.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="lakecache.sdk.tracking"):
        assert run.finish()["status"] == "finished"  # /finish itself works; /log does not
    assert time.monotonic() - started < 2
    assert any("not sent within finish_timeout" in r.getMessage() for r in caplog.records)
    assert fake.stored == {} and len(fake.received) >= 2


@pytest.mark.parametrize(("ending", "status"), [("pass", "finished"), ("raise KeyboardInterrupt", "killed"),
                                                ("raise RuntimeError('diverged')", "failed")])
def test_an_unfinished_run_is_flushed_and_finished_at_interpreter_exit(fake, gateway_url, tmp_path, ending, status):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import lakecache
        run = lakecache.start_run(project="{PROJECT}", experiment="exp", flush_seconds=3600, sample_seconds=0)
        for step in range(2500):
            run.log_metric("loss", step, step=step)
        {ending}
    """))
    env = {**os.environ, "LAKECACHE_API_URL": gateway_url, "LAKECACHE_TOKEN": "lct_test",
           "LAKECACHE_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode != 0) == (status != "finished"), done.stderr
    [run_id] = fake.runs
    assert fake.finished == {run_id: status}
    assert sorted(fake.points()) == [("loss", s, s) for s in range(2500)]


# what a run records

def test_the_experiment_another_job_created_meanwhile_is_used(fake, settings):
    fake.created_elsewhere = "shared"
    with a_run(settings, experiment="shared") as run:
        pass
    assert run.experiment_id == "exp-elsewhere" and list(fake.experiments) == ["shared"]


def test_start_records_params_tags_code_host_source_and_site(fake, settings, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print()\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("LAKECACHE_SITE", "dgx")
    with a_run(settings, name="r1", params={"lr": 0.1, "opt": "adam", "bad": float("nan")}, tags={"team": "cv"}) as run:
        pass
    started = fake.runs[run.id]
    assert (started["code_version"], started["code_dirty"]) == (head, False)
    assert (started["name"], started["site"], started["source"]) == ("r1", "dgx", sys.argv[0])
    assert started["params"] == {"lr": 0.1, "opt": "adam", "bad": "nan"} and started["tags"] == {"team": "cv"}
    assert started["host"] and started["start_time"]

    (repo / "new.txt").write_text("uncommitted")
    assert run_context.code_state() == (head, True)


def test_without_git_or_outside_a_repository_the_code_version_is_left_out(fake, settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert run_context.code_state() == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with a_run(settings) as run:
        pass
    assert fake.runs[run.id].get("code_version") is None and fake.runs[run.id].get("code_dirty") is None


def test_under_a_job_token_the_tokens_run_is_logged_to_and_left_for_its_starter_to_end(fake, settings):
    fake.identity = {"kind": "job", "project": PROJECT, "run_id": "run-j"}
    with start_run(experiment="ignored", params={"lr": 0.1}, settings=settings, sample_seconds=0) as run:
        run.log_metric("loss", 1.5, step=2)
    assert (run.id, run.project, run.attached) == ("run-j", PROJECT, True)
    assert fake.runs == {} and fake.experiments == {}  # nothing started
    assert fake.points("run-j") == [("loss", 2, 1.5)] and fake.stored_params() == {"lr": 0.1}
    assert fake.finished == {}  # `lakecache job run` ends it with the command's status

    with pytest.raises(ValueError, match="acts for run run-j of project"):
        start_run(project="elsewhere", settings=settings, sample_seconds=0)


def test_resources_are_sampled_as_system_metrics_without_gpus(fake, settings):
    with a_run(settings, sample_seconds=0.01):
        wait_for(lambda: {"system/cpu_percent", "system/memory_rss_bytes"} <= {k for k, _, _ in fake.points()},
                 "resource samples")
    keys = {key for key, _, _ in fake.points()}
    assert not any(key.startswith("system/gpu") for key in keys)  # pynvml is not installed here
    rss = [value for key, _, value in fake.points() if key == "system/memory_rss_bytes"]
    assert all(value > 1 << 20 for value in rss)


def test_records_are_sent_and_checked_at_the_call(fake, settings):
    with a_run(settings) as run:
        run.record_input("images", COMMIT, site="dgx", cache_hit=True, bytes_read=10, context="training")
        run.record_output("model", "s3://models/m1", name="m1", size=3)
        with pytest.raises(ValueError, match="64 lower-case hex"):
            run.record_input("images", "HEAD")
        with pytest.raises(ValueError, match="model, artifact or dataset"):
            run.record_output("weights", "s3://x")
    assert fake.records == [
        ("inputs", {"dataset": "images", "commit_id": COMMIT, "site": "dgx", "cache_hit": True, "bytes": 10,
                    "context": "training"}),
        ("outputs", {"kind": "model", "uri": "s3://models/m1", "name": "m1", "size": 3})]


def test_bad_names_and_values_fail_at_the_call_not_in_the_background(fake, settings):
    with a_run(settings) as run:
        with pytest.raises(ValueError, match="metric name 'a\\*b' is not allowed"):
            run.log_metric("a*b", 1.0)
        with pytest.raises(TypeError, match="must be a number"):
            run.log_metric("loss", "high")
        with pytest.raises(ValueError, match="at most 6000"):
            run.log_params({"long": "x" * 6001})
        run.log_metrics({"nan": float("nan"), "inf": float("inf")}, step=2)
    assert sorted(fake.points()) == [("inf", 2, "Infinity"), ("nan", 2, "NaN")]


def test_log_artifact_waits_for_the_upload(fake, settings, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(b"w" * 3000)
    with a_run(settings) as run:
        stored = run.log_artifact(model, artifact_path="models/")
    assert stored["path"] == "models/model.pt" and fake.artifacts["models/model.pt"] == b"w" * 3000


def test_importing_lakecache_core_does_not_load_the_sdk():
    probe = ("import sys, lakecache.core, lakecache.tracker; assert not any(m.startswith('lakecache.sdk') for m in "
             "sys.modules), 'sdk loaded'; import lakecache; lakecache.start_run; "
             "assert 'lakecache.sdk.tracking' in sys.modules")
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
    assert lakecache.start_run is start_run


# RunCalls' artifacts

async def test_put_artifact_streams_with_content_length_and_download_is_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("lakecache.sdk.runs.CHUNK_SIZE", 1000)
    fake = FakeGateway()
    fake.runs["r1"] = {}
    data = os.urandom(4500)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    async with TestServer(fake.app()) as server:
        settings = ClientSettings(api_url=str(server.make_url("")), token=SecretStr("lct_x"), home=tmp_path)
        async with GatewayClient(settings) as gateway:
            stored = await gateway.put_artifact(PROJECT, "r1", "out/weights.bin", source)
            copy = await gateway.download_artifact(PROJECT, "r1", "out/weights.bin", tmp_path / "copy.bin")
            with pytest.raises(GatewayNotFound):
                await gateway.download_artifact(PROJECT, "r1", "missing.bin", tmp_path / "missing.bin")
    assert stored == {"path": "out/weights.bin", "size": 4500, "sha256": hashlib.sha256(data).hexdigest()}
    assert fake.put_headers[0]["Content-Length"] == "4500" and "Transfer-Encoding" not in fake.put_headers[0]
    assert copy.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "weights.bin"]  # no partial file left


async def test_a_download_that_does_not_match_its_digest_leaves_no_file(tmp_path):
    async def corrupt(request: web.Request) -> web.Response:
        return web.Response(body=b"other", headers={"Digest": "sha-256=" + base64.b64encode(b"x" * 32).decode()})

    app = web.Application()
    app.router.add_get("/{tail:.*}", corrupt)
    async with TestServer(app) as server:
        settings = ClientSettings(api_url=str(server.make_url("")), token=SecretStr("lct_x"), home=tmp_path)
        async with GatewayClient(settings) as gateway:
            with pytest.raises(GatewayUnavailable, match="do not match the artifact's sha256"):
                await gateway.download_artifact(PROJECT, "r1", "a.bin", tmp_path / "a.bin")
    assert list(tmp_path.iterdir()) == []
