"""Benchmark: each dashboard page's server time at scale (goal: p95 < 100 ms per page).

Everything runs on 127.0.0.1: ``lakecache up`` (all five services in one process, the embedded
SQLite store a user gets by default) in a subprocess, site ``bench`` with two volumes. Seeded
through the gateway with the SDK's calls, as users and jobs make them:

- users with roles: ``ada`` (editor of every project), ``vic`` (viewer of the first),
  ``olga`` (administrator of the second);
- ``--datasets`` datasets over ``--projects`` projects, each a commit of a tiny directory
  (``sync_directory``: upload plan, presigned uploads, commit), plus ``showcase`` in the first
  project with ``--showcase-commits`` commits of a tree of directories (the dataset page's log,
  diff and file browser);
- ``--copies-per-volume`` cache requests per volume (real fills, so the cacher, the evictor and
  the gateway's copy read model all know them), waited for until ready;
- ``--runs`` runs in the first project over a few experiments, each started with params, one
  batch of metrics (a loss series and two scalars), the cached commit it read, and finished —
  ``--seed-concurrency`` at a time.

Then it signs in as the installation administrator (``POST /login`` with the administrator
token, as a browser does) and requests every GET page of ``lakecache.gateway.web.PAGES`` (with
variants: a search, a diff, a directory, compare) ``--requests`` times after ``--warmup``
requests, round-robin so that noise on the machine hits every page alike. Time is wall time on
the client over a kept-alive connection, an upper bound of the server's time (the gateway has no
Server-Timing header). The administrator sees every project, so each page reads the most it can.

Prints the seeding times, then per page: status, size, median, p95, max, and whether p95 meets
the goal. A page of ``PAGES`` without a URL here is listed as not measured.

    .venv/bin/python -m bench.dashboard_pages                                    # full size (seeds ~10 min)
    .venv/bin/python -m bench.dashboard_pages --datasets 100 --runs 500 --requests 10   # smoke run
    .venv/bin/python -m bench.dashboard_pages --work /tmp/dash --keep           # seed once, measure again later
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.gateway_status import SERVICES, Stack
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.errors import GatewayUnavailable
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory

SITE = "bench"
VOLUMES = ("nfs1", "nfs2")
GOAL_P95_MS = 100.0
SHOWCASE = "showcase"
EXPERIMENTS = ("resnet", "vit", "convnext", "efficientnet", "mobilenet")
LOSS_STEPS = 20
HTML = {"Accept": "text/html"}


class TwoVolumeStack(Stack):
    """``lakecache up`` of site ``bench`` with two volumes; a home kept between invocations."""

    def __init__(self, work: Path, store_url: str | None = None) -> None:
        self.store_url = store_url
        self.home = work / "home"
        self.volume = work / "volumes"
        self.volume.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = work / "up.stdout", work / "up.stderr"
        self.process = None
        self.announced = {}

    def env(self) -> dict[str, str]:
        env = super().env()
        volumes = []
        for name in VOLUMES:
            (self.volume / name).mkdir(exist_ok=True)
            # Watermarks at the top: the volumes share the machine's disk with everything else.
            volumes.append({"name": name, "path": str(self.volume / name), "high_watermark": 1.0,
                            "low_watermark": 0.99})
        env["LAKECACHE_CACHER__SITE"] = SITE
        env["LAKECACHE_CACHER__VOLUMES"] = json.dumps(volumes)
        if self.store_url:  # one database per service, as on a shared MongoDB
            for service in SERVICES:
                env[f"LAKECACHE_{service.upper()}__STORE_URL"] = self.store_url.replace("/?", f"/{service}?", 1)
        return env


# --- seeding ------------------------------------------------------------------------------------

@dataclass
class World:
    """What the pages are asked about (kept in ``seed.json`` for ``--work``)."""

    projects: list[str]
    datasets: list[str] = field(default_factory=list)  # "project/name"
    showcase_commits: list[str] = field(default_factory=list)  # oldest first
    cached: list[dict[str, str]] = field(default_factory=list)  # project, dataset, commit, volume
    experiments: dict[str, str] = field(default_factory=dict)  # name → id
    runs: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


async def bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    """Run ``jobs`` with at most ``concurrency`` at a time; their results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def call(session: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
    async with session.request(method, path, json=body) as answer:
        text = await answer.text()
        if answer.status >= 300:
            raise RuntimeError(f"{method} {path} answered {answer.status}: {text[:500]}")
        return json.loads(text) if text else None


async def seed_users(gateway: str, admin: str, world: World) -> None:
    roles = {"ada": {p: "editor" for p in world.projects}, "vic": {world.projects[0]: "viewer"},
             "olga": {world.projects[min(1, len(world.projects) - 1)]: "admin"}}
    async with aiohttp.ClientSession(gateway, headers={"Authorization": f"Bearer {admin}"}) as session:
        for name, grants in roles.items():
            await call(session, "POST", "/api/v1/users", {"name": name})
            for project, role in grants.items():
                await call(session, "PUT", f"/api/v1/projects/{project}/members/{name}", {"role": role})
            await call(session, "POST", f"/api/v1/users/{name}/tokens", {"name": "bench"})
    world.users = list(roles)


def tiny_tree(root: Path, index: int) -> None:
    """Three small files in two directories, distinct per dataset."""
    (root / "images").mkdir(parents=True)
    (root / "images" / "0.bin").write_bytes(index.to_bytes(4, "big") * 64)
    (root / "images" / "1.bin").write_bytes(index.to_bytes(4, "big") * 96)
    (root / "labels.csv").write_text(f"file,label\n0.bin,{index % 7}\n1.bin,{index % 5}\n")


async def seed_datasets(client: CatalogClient, scratch: Path, world: World, count: int, concurrency: int) -> None:
    names = [(world.projects[i % len(world.projects)], f"ds-{i:04d}") for i in range(count)]

    async def one(i: int, project: str, name: str) -> None:
        await client.create_dataset(project, name, description=f"images of kind {i % 13}, batch {i // 50}",
                                    tags=[f"kind-{i % 13}", "bench"])
        root = scratch / "trees" / name
        tiny_tree(root, i)
        await sync_directory(client, DatasetRef(project, name), root, message=f"{name}: first", concurrency=4)
        shutil.rmtree(root)

    await bounded([lambda i=i, p=p, n=n: one(i, p, n) for i, (p, n) in enumerate(names)], concurrency)
    world.datasets = [f"{p}/{n}" for p, n in names]


async def seed_showcase(client: CatalogClient, scratch: Path, world: World, commits: int) -> None:
    """One dataset with a history: 10 directories × 30 files, a few files changed per commit."""
    project = world.projects[0]
    await client.create_dataset(project, SHOWCASE, description="the dataset page's example", tags=["bench"])
    root = scratch / SHOWCASE
    for d in range(10):
        (root / f"shard-{d:02d}").mkdir(parents=True)
        for f in range(30):
            (root / f"shard-{d:02d}" / f"{f:03d}.bin").write_bytes(f"{d}-{f}-0".encode() * 20)
    for c in range(commits):
        for k in range(5):  # five files change per commit
            f = (c * 5 + k) % 300
            (root / f"shard-{f // 30:02d}" / f"{f % 30:03d}.bin").write_bytes(f"{f}-{c}".encode() * 20)
        result = await sync_directory(client, DatasetRef(project, SHOWCASE), root, message=f"version {c}")
        world.showcase_commits.append(result.commit["id"])
    world.datasets.append(f"{project}/{SHOWCASE}")


async def seed_copies(client: CatalogClient, world: World, per_volume: int, concurrency: int) -> None:
    """``per_volume`` copies on each volume: the showcase's head and the first datasets' heads."""
    wanted = [world.datasets[-1]] + world.datasets[:per_volume * len(VOLUMES) - 1]
    targets = [(d, VOLUMES[i % len(VOLUMES)]) for i, d in enumerate(wanted)]

    async def one(dataset: str, volume: str) -> dict[str, str]:
        project, name = dataset.split("/")
        accepted = await client.request_cache(project, name, SITE, volume=volume)
        commit = accepted["status_url"].rstrip("/").rsplit("/", 1)[-1]
        deadline = time.monotonic() + 300
        while True:
            status = await client.copy_status(project, SITE, commit)
            if status["state"] == "ready":
                return {"project": project, "dataset": name, "commit": commit, "volume": volume}
            if status["state"] == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"the copy of {dataset} did not become ready: {status}")
            await asyncio.sleep(0.2)

    world.cached = await bounded([lambda d=d, v=v: one(d, v) for d, v in targets], concurrency)


async def applied(read: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool],
                  within: float = 300) -> None:
    deadline = time.monotonic() + within
    while not done(await read()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the tracker did not apply a change within {within:.0f} s")
        await asyncio.sleep(0.5)


async def seed_runs(client: CatalogClient, world: World, count: int, concurrency: int) -> None:
    """``count`` runs in the first project: params, a loss series, two scalars, the cached commit
    they read, finished (a tenth failed)."""
    project = world.projects[0]
    for name in EXPERIMENTS:
        world.experiments[name] = (await client.create_experiment(project, name))["id"]
    inputs = [c for c in world.cached if c["project"] == project]
    ids = list(world.experiments.values())

    async def one(i: int) -> str:
        run = await client.start_run(project, ids[i % len(ids)], name=f"run-{i:05d}", site=SITE, host="node-7",
                                     code_version=f"{i:07x}", params={
                                         "lr": str(10 ** -(1 + i % 4)), "batch": 32 * (1 + i % 4),
                                         "optimizer": ("adam", "sgd")[i % 2], "seed": i, "epochs": 10})
        metrics = [{"key": "loss", "value": 2.0 / (1 + s + i % 10), "step": s} for s in range(LOSS_STEPS)]
        metrics += [{"key": "accuracy", "value": 0.5 + (i % 500) / 1000, "step": LOSS_STEPS},
                    {"key": "val_loss", "value": 1.0 / (2 + i % 10), "step": LOSS_STEPS}]
        await client.log_batch(project, run["id"], f"b{i}", metrics=metrics)
        if inputs:
            read = inputs[i % len(inputs)]
            await client.record_input(project, run["id"], read["dataset"], read["commit"], site=SITE,
                                      volume=read["volume"], cache_hit=i % 3 != 0, bytes_read=1000,
                                      context="training")
        status = "failed" if i % 10 == 9 else "finished"
        try:
            await client.finish_run(project, run["id"], status)
        except GatewayUnavailable:  # sent, not yet applied (a slow store): read it again, as the answer says
            await applied(lambda: client.get_run(project, run["id"]), lambda r: r["status"] == status)
        return run["id"]

    world.runs = await bounded([lambda i=i: one(i) for i in range(count)], concurrency)


async def seed(stack: Stack, scratch: Path, args: argparse.Namespace) -> World:
    gateway, admin = stack.url("gateway"), stack.token()
    world = World(projects=[f"team{i}" for i in range(args.projects)])
    settings = ClientSettings(api_url=gateway, token=admin, cache_dir=scratch / "client", home=scratch / "nohome")

    async def timed(name: str, work: Awaitable[Any]) -> None:
        started = time.perf_counter()
        await work
        world.timings[name] = time.perf_counter() - started
        print(f"  seeded {name} in {world.timings[name]:.1f} s", flush=True)

    await timed("users", seed_users(gateway, admin, world))
    async with CatalogClient(settings) as client:
        await timed(f"{args.datasets} datasets", seed_datasets(client, scratch, world, args.datasets,
                                                               args.seed_concurrency))
        await timed(f"showcase ({args.showcase_commits} commits)",
                    seed_showcase(client, scratch, world, args.showcase_commits))
        await timed(f"{args.copies_per_volume * len(VOLUMES)} copies",
                    seed_copies(client, world, args.copies_per_volume, args.seed_concurrency))
        await timed(f"{args.runs} runs", seed_runs(client, world, args.runs, args.seed_concurrency))
    return world


# --- the pages ---------------------------------------------------------------------------------

async def sign_in(session: aiohttp.ClientSession, token: str) -> str:
    """The session cookie a browser gets for ``token`` from the sign-in form."""
    async with session.get("/login", headers=HTML) as page:
        html = await page.text()
        check = SimpleCookie(page.headers.get("Set-Cookie"))["lakecache_login"].value
    field_value = re.search(r'name="login_check" value="([^"]+)"', html).group(1)
    async with session.post("/login", data={"login_check": field_value, "next": "/", "token": token},
                            headers={**HTML, "Cookie": f"lakecache_login={check}"}, allow_redirects=False) as answer:
        if answer.status != 303:
            raise RuntimeError(f"signing in answered {answer.status}: {(await answer.text())[:300]}")
        lines = [v for k, v in answer.headers.items() if k.lower() == "set-cookie" and "lakecache_session" in v]
    name, value = next(iter(SimpleCookie(lines[0]).items()))
    return f"{name}={value.value}"


def page_urls(world: World) -> dict[str, list[tuple[str, str]]]:
    """Per page path of ``PAGES``: (label, URL) of what is measured."""
    p0, runs = world.projects[0], world.runs
    showcase = f"/datasets/{p0}/{SHOWCASE}"
    compared = runs[:5]
    read = next((c for c in world.cached if c["project"] == p0), world.cached[0])
    return {
        "/": [("/", "/"), ("/?q=kind-3", "/?" + urlencode({"q": "kind-3"})),
              ("/?project=", "/?" + urlencode({"project": p0}))],
        "/sites": [("/sites", "/sites")],
        "/datasets/{project}/{name}": [
            ("/datasets/{p}/{n}", showcase),
            ("  ?from=&to= (diff)", showcase + "?" + urlencode({"from": world.showcase_commits[0],
                                                                "to": world.showcase_commits[-1]})),
            ("  ?prefix=", showcase + "?" + urlencode({"prefix": "shard-03/"})),
            ("  (tiny dataset)", f"/datasets/{world.datasets[0]}")],
        "/experiments": [("/experiments", "/experiments")],
        "/projects/{project}/runs": [
            ("/projects/{p}/runs", f"/projects/{p0}/runs"),
            ("  ?experiment=", f"/projects/{p0}/runs?" + urlencode({"experiment": world.experiments[EXPERIMENTS[0]]})),
            ("  ?filter=&order=", f"/projects/{p0}/runs?" + urlencode({
                "filter": "params.optimizer = 'adam' and metrics.accuracy > 0.7",
                "order": "metrics.`accuracy` DESC"}))],
        "/projects/{project}/compare": [
            (f"/projects/{{p}}/compare ({len(compared)} runs)",
             f"/projects/{p0}/compare?" + urlencode([("runs", r) for r in compared]))],
        "/projects/{project}/runs/{run_id}": [("/projects/{p}/runs/{id}", f"/projects/{p0}/runs/{runs[0]}")],
        "/projects/{project}/lineage": [
            ("/projects/{p}/lineage?node=run", f"/projects/{p0}/lineage?" + urlencode({"node": f"run:{runs[0]}"})),
            ("  ?node=commit", f"/projects/{p0}/lineage?" + urlencode({"node": f"commit:{read['commit']}"}))],
        "/lineage": [("/lineage", "/lineage")],
        "/admin": [("/admin", "/admin")],
        "/admin/users/{name}": [("/admin/users/{name}", "/admin/users/ada")],
        "/admin/audit": [("/admin/audit", "/admin/audit")],
        "/projects/{project}/members": [("/projects/{p}/members", f"/projects/{p0}/members")],
        "/tokens": [("/tokens", "/tokens")],
        "/login": [],  # the sign-in form: not a page of data
    }


@dataclass
class Measured:
    label: str
    url: str
    times: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    size: int = 0

    def p95(self) -> float:
        ordered = sorted(self.times)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def measure(gateway: str, token: str, world: World, requests: int,
                  warmup: int) -> tuple[list[Measured], list[str]]:
    from lakecache.gateway.web import PAGES

    known = page_urls(world)
    targets: list[Measured] = []
    unmeasured = []
    for page in PAGES:
        if page.method != "GET":
            continue
        if page.path not in known:
            unmeasured.append(page.path)
            continue
        targets += [Measured(label, url) for label, url in known.pop(page.path)]
    connector = aiohttp.TCPConnector(limit=1)  # one kept-alive connection: requests one at a time
    async with aiohttp.ClientSession(gateway, connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        cookie = await sign_in(session, token)
        headers = {**HTML, "Cookie": cookie}
        for round_ in range(warmup + requests):
            for target in targets:
                started = time.perf_counter()
                async with session.get(target.url, headers=headers, allow_redirects=False) as answer:
                    body = await answer.read()
                elapsed = time.perf_counter() - started
                target.statuses.add(answer.status)
                target.size = len(body)
                if round_ >= warmup:
                    target.times.append(elapsed)
    return targets, unmeasured


def report(targets: list[Measured], unmeasured: list[str], requests: int) -> None:
    print(f"\n{'page':<40} {'status':>6} {'kB':>6} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  goal p95 < "
          f"{GOAL_P95_MS:.0f} ms")
    for t in targets:
        p95 = t.p95() * 1000
        verdict = "met" if p95 < GOAL_P95_MS and t.statuses == {200} else "MISSED"
        status = ",".join(map(str, sorted(t.statuses)))
        print(f"{t.label:<40} {status:>6} {t.size / 1000:>6.0f} {statistics.median(t.times) * 1000:>10.1f} "
              f"{p95:>8.1f} {max(t.times) * 1000:>8.1f}  {verdict}")
    for path in unmeasured:
        print(f"{path:<40} not measured: no URL for this page in bench/dashboard_pages.py")
    print(f"({requests} requests per row after the warm-up; a row answering other than 200 counts as missed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--showcase-commits", type=int, default=30)
    parser.add_argument("--copies-per-volume", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed-concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--work", type=Path, help="keep the stack's home here; seeded once, reused when it exists")
    parser.add_argument("--keep", action="store_true", help="leave --work in place at the end")
    parser.add_argument("--store", choices=("embedded", "ferretdb"), default="embedded",
                        help="every service's document store: the embedded SQLite files, or FerretDB (the test "
                             "server of tests/servers, started here)")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="lakecache-bench-dash-"))
    work.mkdir(parents=True, exist_ok=True)
    seeded = work / "seed.json"
    ferret = None
    if args.store == "ferretdb":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.servers.registry import start

        ferret = start("mongo", work)  # its data stays in --work with the rest
    stack = TwoVolumeStack(work, ferret.url if ferret else None)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before; {args.store} store; work in {work}",
          flush=True)
    try:
        stack.start()
        if seeded.exists():
            world = World(**json.loads(seeded.read_text()))
            print(f"  reusing the seeded home ({len(world.datasets)} datasets, {len(world.cached)} copies, "
                  f"{len(world.runs)} runs)")
        else:
            world = asyncio.run(seed(stack, work / "scratch", args))
            seeded.write_text(json.dumps(world.__dict__))
        load_before = os.getloadavg()
        targets, unmeasured = asyncio.run(measure(stack.url("gateway"), stack.token(), world, args.requests,
                                                  args.warmup))
        load_after = os.getloadavg()
        print(f"\n{len(world.datasets)} datasets in {len(world.projects)} projects, "
              f"{len(world.cached)} copies on {len(VOLUMES)} volumes, {len(world.runs)} runs; signed in as the "
              f"administrator; load average {load_before[0]:.2f} before the requests, {load_after[0]:.2f} after")
        report(targets, unmeasured, args.requests)
    finally:
        code = stack.stop()
        if code not in (0, None):
            print(f"lakecache up exited with {code}:\n{stack.stderr_tail()}", file=sys.stderr)
        if ferret is not None:
            ferret.stop()
        if not (args.work and args.keep):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
