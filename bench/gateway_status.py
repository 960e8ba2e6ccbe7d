"""Benchmark: latency of the gateway's cache-status GET at a fixed offered rate, with wrk.

Everything runs on 127.0.0.1: ``lakecache up`` (all five services in one process, embedded
defaults) in a subprocess, as a user starts it. Through the gateway, with the administrator
token, the SDK commits a small dataset and a cache request makes it ready at the site. Then
wrk (Debian's wrk 4.1, paced by a Lua ``delay()`` since it has no ``-R``) sends
``GET /api/v1/sites/<site>/copies/<commit>`` at ``--rate`` requests/s over ``--connections``
connections for ``--duration`` seconds. Peers, under the same load and interleaved run by run:
the cacher's own copy endpoint (no authentication, no read model) and the gateway's
``/healthz`` (aiohttp's floor). Prints p50/p99 latency and the achieved rate (medians of
--runs), errors, and the gateway's p99 against the 25 ms goal and the cacher's. See
bench/README.md.

    .venv/bin/python -m bench.gateway_status                          # 3 runs × 20 s per target at 500 requests/s
    .venv/bin/python -m bench.gateway_status --runs 1 --duration 5    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory

SITE, PROJECT, DATASET = "bench", "bench", "cats"
GOAL_P99_MS = 25.0
LAKECACHE = Path(sys.executable).with_name("lakecache")
SERVICES = ("catalog", "cacher", "evictor", "tracker", "gateway")
GATEWAY, CACHER, HEALTHZ = "gateway status", "cacher status", "gateway /healthz"
UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


# --- the stack --------------------------------------------------------------------------------

class Stack:
    """``lakecache up --json`` in a subprocess; its output goes to files so a full pipe never
    blocks the services."""

    def __init__(self, work: Path) -> None:
        self.home = work / "home"
        self.volume = work / "volume"
        self.volume.mkdir(parents=True)
        self.stdout_path, self.stderr_path = work / "up.stdout", work / "up.stderr"
        self.process: subprocess.Popen | None = None
        self.announced: dict[str, Any] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECACHE_")}
        env.update(LAKECACHE_HOME=str(self.home), LAKECACHE_CACHER__SITE=SITE,
                   LAKECACHE_CACHER__VOLUMES=json.dumps([{"name": "nfs1", "path": str(self.volume),
                                                          "high_watermark": 1.0, "low_watermark": 0.99}]))
        for service in SERVICES:  # no clash with a LakeCache already running
            env[f"LAKECACHE_{service.upper()}__PORT"] = "0"
        return env

    def start(self, timeout: float = 120) -> None:
        if not LAKECACHE.exists():
            raise RuntimeError(f"{LAKECACHE} not found: run `uv sync` first")
        with self.stdout_path.open("w") as stdout, self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen([str(LAKECACHE), "up", "--json"], stdout=stdout, stderr=stderr,
                                            env=self.env(), cwd=self.home.parent, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            text = self.stdout_path.read_text()
            if text.endswith("\n"):
                self.announced = json.loads(text.splitlines()[0])
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"lakecache up exited with {self.process.returncode}:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"lakecache up printed nothing within {timeout:.0f} s:\n{self.stderr_tail()}")
            time.sleep(0.1)
        if self.announced.get("status") != "up":
            raise RuntimeError(f"lakecache up announced {self.announced}")

    def url(self, service: str) -> str:
        return self.announced["services"][service]

    def token(self) -> str:
        return Path(self.announced["admin_token_file"]).read_text().strip()

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the ``lakecache up`` process (every service and thread in it)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stderr_tail(self, chars: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it; kill after 30 s. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


# --- the data and the ready copy ------------------------------------------------------------

async def ready_copy(stack: Stack, work: Path, token: str) -> str:
    """Commit a small directory through the gateway, request its copy at the site and wait
    until it is ready; returns the commit id."""
    gateway = stack.url("gateway")
    data = work / "data"
    (data / "train").mkdir(parents=True)
    for i in range(5):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(4096))
    (data / "labels.csv").write_text("file,label\n" + "".join(f"{i}.bin,cat\n" for i in range(5)))
    settings = ClientSettings(api_url=gateway, token=token, cache_dir=work / "client", home=work / "nohome")
    async with CatalogClient(settings) as client:
        await client.create_dataset(PROJECT, DATASET)
        commit_id = (await sync_directory(client, DatasetRef(PROJECT, DATASET), data, message="bench")).commit["id"]

    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(gateway, headers=headers) as session:
        async with session.post("/api/v1/caches",
                                json={"project": PROJECT, "dataset": DATASET, "site": SITE}) as response:
            accepted = await response.json()
            if response.status != 202:
                raise RuntimeError(f"POST /api/v1/caches answered {response.status}: {accepted}")
        deadline = time.monotonic() + 120
        while True:
            async with session.get(accepted["status_url"]) as response:
                status = await response.json()
            if response.status == 200 and status.get("state") == "ready":
                break
            if status.get("state") == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"the copy did not become ready: {response.status} {status}")
            await asyncio.sleep(0.2)
    return commit_id


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    token: str | None  # sent as a bearer token when set


async def check_targets(targets: list[Target]) -> None:
    """Each target answers 200 once before it is measured (the copies: state ready)."""
    async with aiohttp.ClientSession() as session:
        for target in targets:
            headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
            async with session.get(target.url, headers=headers) as response:
                body = await response.json(content_type=None)
            if response.status != 200 or ("state" in body and body["state"] != "ready"):
                raise RuntimeError(f"{target.name} ({target.url}) answered {response.status}: {body}")


# --- wrk ------------------------------------------------------------------------------------------

def lua_script(target: Target, rate: float, connections: int, threads: int, pacing: str) -> str:
    """wrk 4.1 has no fixed-rate option; wrk calls ``delay()`` before each request of a
    connection (the first one and each one after a response) and waits that many milliseconds.

    ``pause``: every connection pauses ``connections / rate`` s before each request. Its
    period is that pause plus the response's latency, so it offers slightly less than ``rate``
    even when the server keeps up. The first pauses are staggered over one period so the
    connections do not send in lockstep.

    ``schedule``: each wrk thread keeps a clock (LuaJIT's FFI ``clock_gettime``) and sends its
    share of ``rate`` on fixed slots, every ``threads / rate`` s; each ``delay()`` takes the
    thread's next slot and waits until it. A slot that is already past is sent at once, so
    the offered rate stays ``rate`` until all connections are busy waiting for responses."""
    auth = ""
    if target.token:
        if not re.fullmatch(r"[\x21-\x7e]+", target.token):
            raise ValueError("the token has characters that do not fit in an HTTP header")
        auth = f'wrk.headers["Authorization"] = {json.dumps("Bearer " + target.token)}\n'
    head = f"""-- written by bench/gateway_status.py: {rate:g} requests/s over {connections} connections, {pacing}
{auth}local rate, connections, threads = {rate!r}, {connections}, {threads}

local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end
"""
    if pacing == "pause":
        return head + """
local pause_ms = connections / rate * 1000
local started = 0

function delay()
   if started < connections / threads then
      -- a connection's first request: its own slot within the first period
      local slot = started * threads + (id or 0)
      started = started + 1
      return math.floor(slot * pause_ms / connections)
   end
   return math.floor(pause_ms + 0.5)
end
"""
    return head + """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("bench_timespec")
local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
   return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
end

local interval_ms = threads / rate * 1000
local first_ms = nil
local slot = 0

function delay()
   local now = now_ms()
   if first_ms == nil then
      first_ms = now + (id or 0) * interval_ms / threads  -- the threads' slots interleave
   end
   local wait = first_ms + slot * interval_ms - now
   slot = slot + 1
   if wait <= 0 then
      return 0
   end
   return math.floor(wait)
end
"""


@dataclass
class WrkRun:
    target: str
    run: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    server_cpu: float | None = None  # share of one core used by the lakecache process during the run
    wrk_cpu: float | None = None

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def to_ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


LATENCY_LINE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
MAX_LINE = re.compile(r"^\s*Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
TOTAL_LINE = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
RPS_LINE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str, target: str, run: int) -> WrkRun:
    percentiles = {int(p): to_ms(v, u) for p, v, u in LATENCY_LINE.findall(output)}
    total, rps, most = TOTAL_LINE.search(output), RPS_LINE.search(output), MAX_LINE.search(output)
    if len(percentiles) < 4 or total is None or rps is None:
        raise RuntimeError(f"cannot parse wrk's output:\n{output}")
    result = WrkRun(target=target, run=run, requests=int(total.group(1)),
                    seconds=to_ms(total.group(2), total.group(3)) / 1000, rps=float(rps.group(1)),
                    p50_ms=percentiles[50], p75_ms=percentiles[75], p90_ms=percentiles[90], p99_ms=percentiles[99],
                    max_ms=to_ms(most.group(1), most.group(2)) if most else float("nan"))
    if found := NON_2XX.search(output):
        result.non_2xx = int(found.group(1))
    if found := SOCKET_ERRORS.search(output):
        result.socket_errors = {k: int(v) for k, v in zip(("connect", "read", "write", "timeout"), found.groups(),
                                                            strict=True) if int(v)}
    return result


def run_wrk(wrk: str, target: Target, run: int, stack: Stack, work: Path, args: argparse.Namespace) -> WrkRun:
    threads = min(2, args.connections)
    script = work / f"pace-{target.name.replace(' ', '-').replace('/', '')}.lua"
    script.write_text(lua_script(target, args.rate, args.connections, threads, args.pacing))
    argv = [wrk, f"-t{threads}", f"-c{args.connections}", f"-d{args.duration:g}s", "--latency", "-s", str(script),
            target.url]
    cpu0, children0, started = stack.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 120)
    elapsed, cpu1 = time.monotonic() - started, stack.cpu_seconds()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()[-500:]}")
    result = parse_wrk(completed.stdout, target.name, run)
    if cpu0 is not None and cpu1 is not None:
        result.server_cpu = (cpu1 - cpu0) / elapsed
    result.wrk_cpu = (children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime) / elapsed
    return result


# --- the run ----------------------------------------------------------------------------------

def bench(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk not found: install it with `apt-get install wrk` (Debian's wrk 4.1)")
    say = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-gateway-"))
    load_before = os.getloadavg()
    stack = Stack(work)
    runs: list[WrkRun] = []
    try:
        stack.start()
        say(f"lakecache up: gateway {stack.url('gateway')}, cacher {stack.url('cacher')}; work directory {work}; "
            f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before the run", flush=True)
        token = stack.token()
        commit_id = asyncio.run(ready_copy(stack, work, token))
        path = f"/api/v1/sites/{SITE}/copies/{commit_id}"
        targets = [Target(GATEWAY, stack.url("gateway") + path, token),
                   Target(CACHER, stack.url("cacher") + path, None),
                   Target(HEALTHZ, stack.url("gateway") + "/healthz", None)]
        asyncio.run(check_targets(targets))
        say(f"copy of {PROJECT}/{DATASET}@{commit_id[:12]} ready at site {SITE!r}; wrk {args.rate:g} requests/s, "
            f"{args.connections} connections ({args.pacing} pacing), {args.duration:g} s per target and run, "
            f"{args.runs} run(s)", flush=True)
        for run in range(args.runs):
            for target in targets:  # interleaved: machine noise hits every target alike
                runs.append(run_wrk(wrk, target, run, stack, work, args))
            say(f"  run {run + 1}/{args.runs}: " + ", ".join(
                f"{r.target} p50 {r.p50_ms:.2f} ms p99 {r.p99_ms:.2f} ms {r.rps:.0f}/s"
                + (f" ({describe_errors([r])}!)" if r.errors else "") for r in runs[-len(targets):]), flush=True)
    except BaseException:
        tail = stack.stderr_tail()
        if tail:
            print(f"lakecache up's last output:\n{tail}", file=sys.stderr)
        raise
    finally:
        exit_code = stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    if exit_code not in (0, None):
        say(f"note: lakecache up exited with {exit_code} on SIGTERM")
    return summarize(runs, args, load_before, commit_id)


def describe_errors(runs: list[WrkRun]) -> str:
    non_2xx = sum(r.non_2xx for r in runs)
    sockets: dict[str, int] = {}
    for r in runs:
        for kind, count in r.socket_errors.items():
            sockets[kind] = sockets.get(kind, 0) + count
    parts = ([f"non-2xx {non_2xx}"] if non_2xx else []) + [f"{kind} {n}" for kind, n in sockets.items()]
    return ", ".join(parts) or "0"


def median_of(runs: list[WrkRun], name: str) -> float | None:
    values = [getattr(r, name) for r in runs if getattr(r, name) is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[WrkRun], args: argparse.Namespace, load_before: tuple[float, float, float],
              commit_id: str) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for name in dict.fromkeys(r.target for r in runs):
        mine = [r for r in runs if r.target == name]
        targets[name] = {
            "offered_rps": args.rate, "achieved_rps": median_of(mine, "rps"), "p50_ms": median_of(mine, "p50_ms"),
            "p90_ms": median_of(mine, "p90_ms"), "p99_ms": median_of(mine, "p99_ms"),
            "p99_min_ms": min(r.p99_ms for r in mine), "p99_max_ms": max(r.p99_ms for r in mine),
            "max_ms": max(r.max_ms for r in mine), "server_cpu": median_of(mine, "server_cpu"),
            "wrk_cpu": median_of(mine, "wrk_cpu"), "errors": sum(r.errors for r in mine),
            "error_detail": describe_errors(mine), "runs_with_errors": sum(1 for r in mine if r.errors),
        }
    gateway, cacher, healthz = targets[GATEWAY], targets[CACHER], targets[HEALTHZ]
    return {
        "benchmark": "gateway_status", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
        "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
        "rate": args.rate, "pacing": args.pacing, "connections": args.connections,
        "duration_seconds": args.duration, "runs": args.runs,
        "commit_id": commit_id, "goal_p99_ms": GOAL_P99_MS, "goal_met": gateway["p99_ms"] < GOAL_P99_MS,
        "gateway_p99_over_cacher": gateway["p99_ms"] / cacher["p99_ms"],
        "gateway_p99_over_healthz": gateway["p99_ms"] / healthz["p99_ms"],
        "targets": targets, "all_runs": [asdict(r) for r in runs],
    }


def report(summary: dict[str, Any]) -> None:
    print(f"\n{summary['rate']:g} requests/s offered over {summary['connections']} connections "
          f"({summary['pacing']} pacing), "
          f"{summary['duration_seconds']:g} s per run, medians of {summary['runs']} run(s); "
          f"{summary['cpus']} CPUs, load average {summary['load_average_before'][0]:.2f} before, "
          f"{summary['load_average_after'][0]:.2f} after")
    print(f"{'target':<18}{'offered/s':>10}{'achieved/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'p99 min–max':>14}"
          f"{'max ms':>9}{'server CPU':>11}  errors")
    for name, t in summary["targets"].items():
        cpu = f"{t['server_cpu']:.0%}" if t["server_cpu"] is not None else "?"
        flag = f"  ({t['runs_with_errors']} run(s) with errors)" if t["errors"] else ""
        spread = f"{t['p99_min_ms']:.2f}–{t['p99_max_ms']:.2f}"
        print(f"{name:<18}{t['offered_rps']:>10g}{t['achieved_rps']:>11.0f}{t['p50_ms']:>9.2f}{t['p99_ms']:>9.2f}"
              f"{spread:>14}{t['max_ms']:>9.1f}{cpu:>11}  {t['error_detail']}{flag}")
    gateway = summary["targets"][GATEWAY]
    verdict = "met" if summary["goal_met"] else "not met"
    print(f"gateway p99 vs goal {GOAL_P99_MS:g} ms: {verdict} ({gateway['p99_ms']:.2f} ms)")
    print(f"gateway status p99 ÷ cacher status p99: {summary['gateway_p99_over_cacher']:.2f}×")
    print(f"gateway status p99 ÷ gateway /healthz p99: {summary['gateway_p99_over_healthz']:.2f}×")
    if any(t["errors"] for t in summary["targets"].values()):
        print("WARNING: some runs had errors (non-2xx responses or socket errors); their latencies are suspect")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per target, interleaved; medians are reported "
                        "(default 3)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of wrk per target and run (default 20)")
    parser.add_argument("--rate", type=float, default=500, help="offered requests/s, all connections together "
                        "(default 500)")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (default 20)")
    parser.add_argument("--pacing", choices=["schedule", "pause"], default="schedule",
                        help="schedule: each wrk thread sends on a fixed clock (the offered rate holds while the "
                        "server keeps up); pause: each connection pauses connections/rate s before each request, "
                        "so it offers a little less than --rate (default schedule)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table "
                        "(progress goes to stderr)")
    args = parser.parse_args()
    if args.runs < 1 or args.connections < 1 or args.duration < 1 or args.rate <= 0:
        parser.error("--runs and --connections must be at least 1, --duration at least 1 s, --rate positive")
    if args.pacing == "pause" and args.connections / args.rate < 0.001:
        parser.error("more than 1,000 requests/s per connection cannot be paced in whole milliseconds: "
                     "raise --connections")
    summary = bench(args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        report(summary)


if __name__ == "__main__":
    main()
