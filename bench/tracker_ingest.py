"""Benchmark: metric ingestion and history reads of the tracker, against a real MLflow server.

Everything runs on 127.0.0.1. Per store (the embedded SQLite store, and FerretDB — the test
server of ``tests/servers``), per run, a fresh ``lakecache up`` (all five services in one
process, as a user starts it; ``bench.gateway_status.Stack``) with the tracker's store pointed
at it, then:

1. **SDK path**: ``lakecache.start_run`` logs ``--points`` points of one metric (steps 0…N-1)
   as a training loop would, then ``finish()``, which answers once the tracker shows the run
   ended — so every point is in the store. Points/s = points / (first log → finish answered).
2. **History**: ``GET …/metric-history`` of that series, a ``--range``-step window in the middle
   (paged answer), then the same window downsampled to 1,000 points; medians of 5 reads.
3. **MLflow client**: the ``mlflow`` client (mlflow-skinny, the project's dev dependency) against
   the gateway's MLflow routes: ``log_batch`` of 1,000 points × ``--mlflow-batches``, then
   ``set_terminated`` (which answers once applied); points/s over the loop and the end.

The peer: the same ``mlflow`` client loop against a real MLflow tracking server (``mlflow server``
3.17.2 on SQLite, one worker, installed into its own environment at
``~/.cache/lakecache-bench/mlflow-server``: ``python3 -m venv … && …/bin/pip install mlflow==3.17.2``;
the full 3.18 does not install here). Goals: SDK ≥ 50,000 points/s; LakeCache's ``log_batch``
loop ≥ 5× MLflow's; the 10k-step window < 1 s; downsampled < 200 ms. Prints medians of
``--runs`` and the ratios; a miss is printed as a miss.

    .venv/bin/python -m bench.tracker_ingest                              # 1M points, 3 runs per store
    .venv/bin/python -m bench.tracker_ingest --points 100000 --runs 1     # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.gateway_status import Stack

PROJECT = "bench"
MLFLOW_HOME = Path.home() / ".cache" / "lakecache-bench" / "mlflow-server"
GOAL_SDK, GOAL_RATIO, GOAL_RANGE_S, GOAL_THIN_S = 50_000, 5.0, 1.0, 0.2


class TrackerStack(Stack):
    """``lakecache up`` with the tracker's store at ``store_url`` (None: the embedded default)."""

    def __init__(self, work: Path, store_url: str | None) -> None:
        super().__init__(work)
        self.store_url = store_url

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.store_url:
            env["LAKECACHE_TRACKER__STORE_URL"] = self.store_url
        return env


def sdk_run(gateway: str, token: str, points: int) -> tuple[float, str, int]:
    """Log ``points`` points through the SDK; (points/s, run id, points dropped)."""
    import lakecache
    from lakecache.sdk.settings import ClientSettings

    settings = ClientSettings(api_url=gateway, token=token)
    run = lakecache.start_run(project=PROJECT, experiment="ingest", settings=settings, buffer_size=points + 1,
                              sample_seconds=0)
    started = time.perf_counter()
    for step in range(points):
        run.log_metric("loss", 1.0 / (1 + step), step=step)
    finished = run.finish()
    elapsed = time.perf_counter() - started
    if finished is None or finished.get("status") != "finished":
        raise RuntimeError(f"the run did not finish: {finished}")
    return points / elapsed, run.id, run.dropped_points


async def history_times(gateway: str, token: str, run_id: str, points: int, window: int) -> tuple[float, float, int]:
    """Medians of 5 reads: the window (s), the window downsampled to 1,000 points (s); points read."""
    low = max(points // 2 - window // 2, 0)
    url = f"{gateway}/api/v1/projects/{PROJECT}/runs/{run_id}/metric-history"
    base = {"key": "loss", "min_step": str(low), "max_step": str(low + window - 1)}
    headers = {"Authorization": f"Bearer {token}"}
    ranged, thinned, count = [], [], 0
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(5):
            for params, into in ((base | {"limit": str(window)}, ranged), (base | {"max_points": "1000"}, thinned)):
                started = time.perf_counter()
                async with session.get(url, params=params) as answer:
                    body = await answer.json()
                    if answer.status != 200:
                        raise RuntimeError(f"metric-history answered {answer.status}: {body}")
                into.append(time.perf_counter() - started)
                if into is ranged:
                    count = len(body["points"])
    return statistics.median(ranged), statistics.median(thinned), count


def mlflow_loop(uri: str, token: str | None, experiment: str, batches: int) -> float:
    """The ``mlflow`` client's ``log_batch`` loop (1,000 points a batch) and the run's end: points/s."""
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    os.environ.update(env)
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(experiment)
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for batch in range(batches):
        client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (1 + s), now + s, s)
                                          for s in range(batch * 1000, batch * 1000 + 1000)])
    client.set_terminated(run_id, "FINISHED")
    return batches * 1000 / (time.perf_counter() - started)


class MlflowServer:
    """``mlflow server`` on SQLite in its own environment, one worker, no job runner."""

    def __init__(self, work: Path) -> None:
        self.work, self.process = work, None
        self.port = 0

    def start(self) -> str:
        binary = MLFLOW_HOME / "bin" / "mlflow"
        if not binary.exists():
            raise RuntimeError(f"{binary} not found: python3 -m venv {MLFLOW_HOME} && "
                               f"{MLFLOW_HOME}/bin/pip install mlflow==3.17.2")
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(
            [str(binary), "server", "--backend-store-uri", f"sqlite:///{self.work}/mlflow.db",
             "--artifacts-destination", str(self.work / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"], stdout=(self.work / "mlflow.out").open("w"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                import urllib.request
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return url
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not start: {(self.work / 'mlflow.out').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def one_store(name: str, store_url: str | None, args: argparse.Namespace) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"sdk": [], "range": [], "thin": [], "mlflow": []}
    for run in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="lakecache-bench-tracker-"))
        stack = TrackerStack(work, store_url and store_url.replace("/?", f"/bench_{uuid.uuid4().hex[:8]}?", 1))
        try:
            stack.start()
            gateway, token = stack.url("gateway"), stack.token()
            rate, run_id, dropped = sdk_run(gateway, token, args.points)
            if dropped:
                raise RuntimeError(f"the SDK dropped {dropped} points: the measurement is void")
            ranged, thinned, count = asyncio.run(history_times(gateway, token, run_id, args.points, args.range))
            mlflow_rate = mlflow_loop(gateway, token, f"{PROJECT}/loop-{run}", args.mlflow_batches)
            for key, value in (("sdk", rate), ("range", ranged), ("thin", thinned), ("mlflow", mlflow_rate)):
                results[key].append(value)
            print(f"  {name} run {run + 1}/{args.runs}: SDK {rate:,.0f} points/s; window of {count:,} points "
                  f"{ranged * 1000:.0f} ms, downsampled {thinned * 1000:.0f} ms; mlflow log_batch "
                  f"{mlflow_rate:,.0f} points/s", flush=True)
        except BaseException:
            print(f"lakecache up's last output:\n{stack.stderr_tail()}", file=sys.stderr)
            raise
        finally:
            stack.stop()
            shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the SDK series (default 1M)")
    parser.add_argument("--range", type=int, default=10_000, help="steps of the history window (default 10k)")
    parser.add_argument("--mlflow-batches", type=int, default=100, help="log_batch calls of 1,000 points")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stores", default="embedded,ferretdb")
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f}; {args.points:,} points per SDK run, "
          f"{args.mlflow_batches * 1000:,} per mlflow loop, {args.runs} run(s) per store", flush=True)

    peer_rates = []
    with tempfile.TemporaryDirectory(prefix="lakecache-bench-mlflow-") as scratch:
        server = MlflowServer(Path(scratch))
        try:
            url = server.start()
            for run in range(args.runs):
                peer_rates.append(mlflow_loop(url, None, f"loop-{run}", args.mlflow_batches))
                print(f"  mlflow server run {run + 1}/{args.runs}: log_batch {peer_rates[-1]:,.0f} points/s",
                      flush=True)
        finally:
            server.stop()
    peer = statistics.median(peer_rates)

    stores: dict[str, str | None] = {}
    ferret = None
    for name in args.stores.split(","):
        if name == "embedded":
            stores[name] = None
        elif name == "ferretdb":
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.servers.registry import start

            ferret = start("mongo", Path(tempfile.mkdtemp(prefix="lakecache-bench-ferret-")))
            stores[name] = ferret.url
    summary: dict[str, dict[str, float]] = {}
    try:
        for name, url in stores.items():
            results = one_store(name, url, args)
            summary[name] = {key: statistics.median(values) for key, values in results.items()}
    finally:
        if ferret is not None:
            ferret.stop()

    print(f"\nmedians of {args.runs} run(s); MLflow server 3.17.2 (SQLite) log_batch: {peer:,.0f} points/s")
    for name, m in summary.items():
        def verdict(ok: bool) -> str:
            return "met" if ok else "MISSED"

        print(f"{name:>9}: SDK {m['sdk']:,.0f} points/s (goal {GOAL_SDK:,}: {verdict(m['sdk'] >= GOAL_SDK)}); "
              f"mlflow log_batch {m['mlflow']:,.0f} points/s = {m['mlflow'] / peer:.2f}× MLflow's "
              f"(goal {GOAL_RATIO:g}×: {verdict(m['mlflow'] / peer >= GOAL_RATIO)}); "
              f"{args.range:,}-step window {m['range'] * 1000:.0f} ms ({verdict(m['range'] < GOAL_RANGE_S)}), "
              f"downsampled to 1,000 {m['thin'] * 1000:.0f} ms ({verdict(m['thin'] < GOAL_THIN_S)})")
    print(f"load average {os.getloadavg()[0]:.2f} after (before: {load_before[0]:.2f})")


if __name__ == "__main__":
    main()
