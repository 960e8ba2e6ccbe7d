"""Benchmark: `lakecache data sync` and `data import` against `aws s3 sync` and `s5cmd sync`.

Everything runs on 127.0.0.1: a versitygw S3 server (the test server from tests/servers), the
catalog service on that S3 lake, and the peers' command-line tools on the same generated
directory. Each run uses fresh buckets, so every tool uploads everything. Prints files/s and
MB/s per tool (medians of --runs) and LakeCache ÷ peer ratios. See bench/README.md.

    .venv/bin/python -m bench.catalog_sync --files 2000 --size 400000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import start_service
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.importer import import_prefix
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.servers.registry import start as start_server

TOOLS_VENV = Path.home() / ".cache" / "lakecache-bench" / "tools"


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


def peer_env(server) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_DEFAULT_REGION": server.region, "AWS_REGION": server.region}


async def run_peer(server, argv: list[str]) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*argv, env=peer_env(server), stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}")
    return time.perf_counter() - started


async def bench(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-"))
    data = work / "data"
    print(f"generating {args.files} × {args.size} bytes in {data} …", flush=True)
    generate(data, args.files, args.size)
    server = start_server("s3", work / "servers")
    print(f"versitygw at {server.endpoint_url}", flush=True)
    aws, s5cmd = find_tool("aws", "awscli"), find_tool("s5cmd", "s5cmd")
    os.environ["LAKECACHE_CATALOG__PORT"] = "0"
    times: dict[str, list[float]] = {"lakecache sync": [], "lakecache import": []}
    try:
        for run in range(args.runs):
            bucket = f"lc-{uuid.uuid4().hex[:12]}"
            await make_bucket(server, bucket)
            s3 = dict(s3_endpoint_url=server.endpoint_url, s3_region=server.region,
                      s3_access_key_id=server.access_key, s3_secret_access_key=server.secret_key)
            (work / f"home{run}").mkdir()
            settings = CATALOG.settings_type(home=work / f"home{run}", bus_url=f"memory://bench{run}",
                                             lake_url=f"s3://{bucket}", **s3)
            async with start_service(CATALOG, settings) as catalog_service:
                client_settings = ClientSettings(api_url=catalog_service.base_url, cache_dir=work / f"cache{run}", **s3)
                async with CatalogClient(client_settings) as catalog:
                    ds, imported = DatasetRef("bench", "data"), DatasetRef("bench", "imported")
                    dataset = await catalog.create_dataset(ds.project, ds.name)
                    await catalog.create_dataset(imported.project, imported.name)
                    started = time.perf_counter()
                    result = await sync_directory(catalog, ds, data, message=f"run {run}",
                                                  concurrency=args.concurrency)
                    times["lakecache sync"].append(time.perf_counter() - started)
                    assert result.uploaded == args.files, result
                    started = time.perf_counter()
                    url = f"{dataset['lake_url']}/_lakecache/objects"
                    done = await import_prefix(catalog, imported, url, message="import", concurrency=args.concurrency)
                    times["lakecache import"].append(time.perf_counter() - started)
                    assert done.files == args.files, done
            # Each upload is as large as the data set: drop it before the next one (outside the
            # timings) so a full-size run fits on the disk.
            shutil.rmtree(server.root / bucket, ignore_errors=True)
            for name, tool in (("aws s3 sync", aws), ("s5cmd sync", s5cmd)):
                if tool is None:
                    continue
                peer_bucket = f"peer-{uuid.uuid4().hex[:12]}"
                await make_bucket(server, peer_bucket)
                if name.startswith("aws"):
                    argv = [tool, "--endpoint-url", server.endpoint_url, "s3", "sync", "--only-show-errors",
                            str(data), f"s3://{peer_bucket}/data"]
                else:
                    argv = [tool, "--endpoint-url", server.endpoint_url, "--numworkers", str(args.concurrency),
                            "sync", f"{data}/", f"s3://{peer_bucket}/data/"]
                times.setdefault(name, []).append(await run_peer(server, argv))
                shutil.rmtree(server.root / peer_bucket, ignore_errors=True)
            print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()), flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(times, args)


def report(times: dict[str, list[float]], args: argparse.Namespace) -> None:
    total_mb = args.files * args.size / 1e6
    medians = {name: statistics.median(values) for name, values in times.items() if values}
    print(f"\n{args.files} files × {args.size} bytes ({total_mb:.0f} MB), median of {args.runs} run(s), "
          f"concurrency {args.concurrency}")
    print(f"{'tool':<18}{'seconds':>10}{'files/s':>10}{'MB/s':>10}")
    for name, seconds in medians.items():
        print(f"{name:<18}{seconds:>10.2f}{args.files / seconds:>10.0f}{total_mb / seconds:>10.1f}")
    for peer in ("aws s3 sync", "s5cmd sync"):
        if peer in medians:
            ratio = medians[peer] / medians["lakecache sync"]
            print(f"lakecache sync ÷ {peer}: {ratio:.2f}× the throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000, help="number of files (default 20000)")
    parser.add_argument("--size", type=int, default=400_000, help="bytes per file (default 400000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel uploads for every tool (default 16)")
    args = parser.parse_args()
    if args.files < 1 or args.size < 16 or args.runs < 1:
        parser.error("--files and --runs must be at least 1, --size at least 16")
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
