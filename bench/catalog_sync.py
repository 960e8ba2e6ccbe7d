"""Benchmark: `lakecache data sync` and `data import` against `aws s3 sync` and `s5cmd sync`.

Everything runs on 127.0.0.1: a versitygw S3 server (the test server from tests/servers) and,
per run, ``lakecache up`` in a subprocess (all five services, as a user starts them) on a
fresh bucket of it as the lake. The SDK holds nothing but a LakeCache token (a user the
administrator created through the gateway): sync uploads through the presigned URLs the
gateway hands out, import is done by the catalog with its own credentials. The peers'
command-line tools upload the same generated directory into fresh buckets. Prints files/s and
MB/s per tool (medians of --runs), CPU, and LakeCache ÷ peer ratios. See bench/README.md.

    .venv/bin/python -m bench.catalog_sync --files 2000 --size 400000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.gateway_status import Stack
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.sdk import uploads
from lakecache.sdk.catalog import MAX_UPLOAD_BATCH, CatalogClient
from lakecache.sdk.importer import import_source
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.servers.registry import start as start_server
from tests.support.stack import create_user

TOOLS_VENV = Path.home() / ".cache" / "lakecache-bench" / "tools"
PROJECT, USER = "bench", "bench-user"
SYNC, IMPORT, IMPORT_HASHED = "lakecache sync", "lakecache import", "lakecache import, hashed"
PEERS = ("aws s3 sync", "s5cmd sync")


def generate(root: Path, files: int, size: int) -> None:
    """``files`` files of ``size`` bytes in 100-file directories, each with distinct content
    (one random block, made unique per file by its index) so nothing deduplicates."""
    block = bytearray(os.urandom(size))
    for i in range(files):
        path = root / f"d{i // 100:04}" / f"f{i:06}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        block[:16] = i.to_bytes(16, "big")
        path.write_bytes(block)


def find_tool(name: str, package: str) -> str | None:
    """The tool on PATH, else installed with pip into a throwaway venv; None if impossible."""
    found = shutil.which(name) or (str(TOOLS_VENV / "bin" / name) if (TOOLS_VENV / "bin" / name).exists() else None)
    if found:
        return found
    try:
        if not (TOOLS_VENV / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True, capture_output=True)
        subprocess.run([str(TOOLS_VENV / "bin" / "pip"), "install", "-q", package], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        print(f"  {name}: cannot install {package} ({exc.stderr.decode(errors='replace').strip()[-200:]}); skipped")
        return None
    return str(TOOLS_VENV / "bin" / name) if (TOOLS_VENV / "bin" / name).exists() else None


async def make_bucket(server, name: str) -> None:
    async with server.client() as s3:
        await s3.create_bucket(Bucket=name)


def drop_bucket(server, name: str) -> None:
    """Remove a bucket's files behind versitygw's back (outside the timings): each upload is as
    large as the data set, so a full-size run fits on the disk only if one is kept at a time."""
    shutil.rmtree(server.root / name, ignore_errors=True)
    shutil.rmtree(server.run_dir / "meta" / name, ignore_errors=True)  # the sidecar, when xattrs are refused


def peer_env(server) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_DEFAULT_REGION": server.region, "AWS_REGION": server.region}


def children_cpu() -> float:
    """User + system CPU seconds of this process's reaped children: a peer's, measured around it
    (``lakecache up`` is stopped, and reaped, before the peers run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timings:
    """Seconds per tool and run, and the CPU seconds spent meanwhile: by the tool itself (this
    process and the services for LakeCache, the command for a peer) and by the S3 server."""

    def __init__(self, server) -> None:
        self.server = server
        self.seconds, self.cpu, self.server_cpu = {}, {}, {}

    def add(self, name: str, seconds: float, cpu: float, server_cpu: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)
        self.cpu.setdefault(name, []).append(cpu)
        self.server_cpu.setdefault(name, []).append(server_cpu)

    def s3_cpu(self) -> float:
        return process_cpu(self.server.proc.pid) if self.server.proc else 0.0


class LakeCacheUp(Stack):
    """``lakecache up`` (see ``bench.gateway_status``) with a bucket of the S3 server as its lake;
    the lake's credentials are in the services' environment only."""

    def __init__(self, work: Path, server, bucket: str) -> None:
        super().__init__(work)
        self.server, self.bucket = server, bucket

    def env(self) -> dict[str, str]:
        env = super().env()
        env["LAKECACHE_LAKE_URL"] = f"s3://{self.bucket}"
        env.update({f"LAKECACHE_{key.upper()}": value for key, value in self.server.lake_settings().items()})
        return env


async def put_raw(server, bucket: str, data: Path, concurrency: int, *, checksums: bool) -> str:
    """Put every file of ``data`` under ``raw/`` (or ``raw-plain/``) of ``bucket`` with the services'
    own S3 adapter, which keeps each object's SHA-256; ``checksums=False`` uses plain puts (as
    most tools do), so the catalog has to read the objects to hash them. Returns the prefix URL."""
    prefix = f"s3://{bucket}/{'raw' if checksums else 'raw-plain'}"
    files = await asyncio.to_thread(lambda: sorted(p for p in data.rglob("*") if p.is_file()))
    slots = asyncio.Semaphore(concurrency)
    options = {key.removeprefix("s3_"): value for key, value in server.lake_settings().items()}
    async with object_store_from_url(prefix, **options, max_concurrency=concurrency) as store, server.client() as s3:
        async def put(path: Path) -> None:
            async with slots:
                key = path.relative_to(data).as_posix()
                if checksums:
                    await store.put(key, path)
                else:
                    body = await asyncio.to_thread(path.read_bytes)
                    await s3.put_object(Bucket=bucket, Key=f"raw-plain/{key}", Body=body)

        async with asyncio.TaskGroup() as group:
            for path in files:
                group.create_task(put(path))
    return prefix


async def lakecache_run(server, work: Path, data: Path, run: int, args, timings: Timings) -> None:
    """One run of the LakeCache rows on a fresh bucket and a fresh ``lakecache up``."""
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    await make_bucket(server, bucket)
    stack = LakeCacheUp(work / f"run{run}", server, bucket)
    try:
        stack.start()
        gateway, admin = stack.url("gateway"), stack.token()
        token = await asyncio.to_thread(create_user, gateway, admin, USER, {PROJECT: "editor"})
        user = ClientSettings(api_url=gateway, token=token, home=work / "no-home", cache_dir=work / f"cache{run}")
        sources = {IMPORT: await put_raw(server, bucket, data, args.concurrency, checksums=True)}
        if args.hashed_import:
            sources[IMPORT_HASHED] = await put_raw(server, bucket, data, args.concurrency, checksums=False)
        async with CatalogClient(ClientSettings(api_url=gateway, token=admin, home=work / "no-home")) as admin_client:
            for url in sources.values():
                await admin_client.set_import_location(PROJECT, url.rsplit("/", 1)[1], url)

        def measured():
            return time.perf_counter(), process_cpu(os.getpid()) + stack.cpu_seconds(), timings.s3_cpu()

        def record(name: str, before) -> None:
            after = measured()
            timings.add(name, *(b - a for a, b in zip(before, after, strict=True)))

        async with CatalogClient(user) as catalog:
            await catalog.create_dataset(PROJECT, "data")
            before = measured()
            result = await sync_directory(catalog, DatasetRef(PROJECT, "data"), data, message=f"run {run}",
                                          concurrency=args.concurrency)
            record(SYNC, before)
            assert result.uploaded == args.files and result.created, result
            for name, url in sources.items():
                dataset = DatasetRef(PROJECT, "imported" if name == IMPORT else "imported-hashed")
                await catalog.create_dataset(dataset.project, dataset.name)
                before = measured()
                done = await import_source(catalog, dataset, url, message=f"import run {run}")
                record(name, before)
                expected = (args.files, 0) if name == IMPORT else (0, args.files)
                assert done.files == args.files and (done.from_checksum, done.hashed) == expected, done
    finally:
        code = stack.stop()
        if code not in (0, None):
            print(f"  lakecache up exited with {code}:\n{stack.stderr_tail()}", flush=True)
        drop_bucket(server, bucket)
        shutil.rmtree(work / f"run{run}", ignore_errors=True)
        shutil.rmtree(work / f"cache{run}", ignore_errors=True)


async def peer_run(server, name: str, tool: str, data: Path, args, work: Path, timings: Timings) -> None:
    """One upload of ``data`` by a peer into a fresh bucket."""
    env = peer_env(server)
    # aws has no command-line switch for parallelism: it gets the same concurrency by config.
    config = work / "aws-config"
    config.write_text(f"[default]\ns3 =\n    max_concurrent_requests = {args.concurrency}\n")
    env["AWS_CONFIG_FILE"] = str(config)
    bucket = f"peer-{uuid.uuid4().hex[:12]}"
    await make_bucket(server, bucket)
    if name == "aws s3 sync":
        argv = [tool, "--endpoint-url", server.endpoint_url, "s3", "sync", "--only-show-errors",
                str(data), f"s3://{bucket}/data"]
    else:
        argv = [tool, "--endpoint-url", server.endpoint_url, "--numworkers", str(args.concurrency),
                "sync", f"{data}/", f"s3://{bucket}/data/"]
    try:
        s3_cpu, children, started = timings.s3_cpu(), children_cpu(), time.perf_counter()
        process = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE)
        _, stderr = await process.communicate()
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}")
        cpu = children_cpu() - children
        timings.add(name, seconds, cpu, timings.s3_cpu() - s3_cpu)
    finally:
        drop_bucket(server, bucket)


async def bench(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-sync-"))
    data = work / "data"
    load = os.getloadavg()
    print(f"generating {args.files} × {args.size} bytes in {data} …", flush=True)
    generate(data, args.files, args.size)
    server = start_server("s3", work / "servers")
    print(f"versitygw at {server.endpoint_url}", flush=True)
    tools = {name: tool for name, tool in zip(PEERS, (find_tool("aws", "awscli"), find_tool("s5cmd", "s5cmd")),
                                               strict=True) if tool}
    timings = Timings(server)
    try:
        for run in range(args.runs):
            await lakecache_run(server, work, data, run, args, timings)
            for name, tool in tools.items():
                await peer_run(server, name, tool, data, args, work, timings)
            print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in timings.seconds.items()),
                  flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(timings, args, load, os.getloadavg())


def report(timings: Timings, args: argparse.Namespace, load_before, load_after) -> None:
    total_mb = args.files * args.size / 1e6
    medians = {name: statistics.median(values) for name, values in timings.seconds.items() if values}
    cpu = {name: statistics.median(values) for name, values in timings.cpu.items() if values}
    s3_cpu = {name: statistics.median(values) for name, values in timings.server_cpu.items() if values}
    print(f"\n{args.files} files × {args.size} bytes ({total_mb:.0f} MB), median of {args.runs} run(s), "
          f"concurrency {args.concurrency}, upload-plan batch {args.upload_batch}; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'tool':<26}{'seconds':>9}{'files/s':>9}{'MB/s':>8}{'CPU s':>8}{'S3 CPU s':>10}")
    for name, seconds in medians.items():
        print(f"{name:<26}{seconds:>9.2f}{args.files / seconds:>9.0f}{total_mb / seconds:>8.1f}"
              f"{cpu[name]:>8.1f}{s3_cpu[name]:>10.1f}")
    print("CPU s: the tool's own (for LakeCache: this process, SDK, plus `lakecache up`, every service);"
          " S3 CPU s: versitygw's")
    for peer in PEERS:
        if peer in medians:
            ratio = medians[peer] / medians[SYNC]
            print(f"{SYNC} ÷ {peer}: {ratio:.2f}× the throughput ({1 / ratio:.2f}× the time)")
    if args.json:
        print(json.dumps({"files": args.files, "size": args.size, "runs": args.runs, "seconds": timings.seconds,
                          "cpu": timings.cpu, "s3_cpu": timings.server_cpu}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000, help="number of files (default 20000)")
    parser.add_argument("--size", type=int, default=400_000, help="bytes per file (default 400000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel uploads for every tool (default 16)")
    parser.add_argument("--upload-batch", type=int, default=MAX_UPLOAD_BATCH,
                        help=f"contents per upload-plan request of the SDK (default: the SDK's {MAX_UPLOAD_BATCH})")
    parser.add_argument("--hashed-import", action="store_true",
                        help="also time an import of objects put without a SHA-256 checksum (the catalog reads them)")
    parser.add_argument("--json", action="store_true", help="also print every run's numbers as one JSON line")
    args = parser.parse_args()
    if args.files < 1 or args.size < 16 or args.runs < 1 or args.concurrency < 1:
        parser.error("--files, --runs and --concurrency must be at least 1, --size at least 16")
    if not 1 <= args.upload_batch <= MAX_UPLOAD_BATCH:
        parser.error(f"--upload-batch must be 1..{MAX_UPLOAD_BATCH}")
    # Smaller batches only when asked: the gateway's body limit on the upload-plan route (64 KiB)
    # refuses the SDK's own batch of 1000 contents (96 kB of JSON) as of 7 Dec 2026.
    uploads.MAX_UPLOAD_BATCH = args.upload_batch
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
