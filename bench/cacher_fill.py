"""Benchmark: a LakeCache cold fill against `s5cmd cp`, `rclone copy` and `aws s3 cp --recursive`.

Everything runs on 127.0.0.1: one versitygw S3 server (the test server from tests/servers)
holds the data; LakeCache (``fill_commit``, in this process) and each peer copy the same
objects from it onto the same local disk. Scenarios: (a) many small files, (b) a few big
files, (c) the second version of (a) with 5 % of the files changed, filled onto a volume
that holds the first, against each peer's full copy. Prints objects/s, MB/s, LakeCache ÷
peer ratios (medians of --runs) and the disk's sequential write ceiling. See bench/README.md.

    .venv/bin/python -m bench.cacher_fill --files 500 --size 100000 --big-files 2 --big-size 64MiB --runs 1
    .venv/bin/python -m bench.cacher_fill --kill-trials 20       # crash trials only
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.catalog_sync import find_tool, make_bucket, peer_env
from lakecache.cacher.fill import FetchOptions, fill_commit
from lakecache.cacher.volume.safety import sync_filesystem
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import RESERVED_PREFIX, content_key
from lakecache.core.manifest import ManifestBuilder, ManifestEntry
from tests.cacher import crash_trials
from tests.servers.registry import start as start_server

PROJECT, DATASET = "bench", "data"
LAKECACHE = "lakecache fill"
PEERS = ("s5cmd cp", "rclone copy", "aws s3 cp")
SYNCED = " + sync"  # a peer's copy plus the syncfs that makes it durable, as a LakeCache fill is


@dataclass
class Dataset:
    """Objects in one bucket under a dataset prefix, and the commits made of them."""

    bucket: str
    prefix: str
    files: int
    bytes: int
    commits: list[tuple[str, bytes]] = field(default_factory=list)  # (commit id, gzip manifest)

    @property
    def lake_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def objects_prefix(self) -> str:
        """Where the contents are: what the peers copy."""
        return f"{self.prefix}/{RESERVED_PREFIX}objects"


def parse_size(text: str) -> int:
    units = {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 10**3, "mb": 10**6, "gb": 10**9}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)]) * factor)
    return int(lowered)


def store_options(server, concurrency: int) -> dict:
    return {**crash_trials.store_options(server), "max_concurrency": concurrency}


# --- data -------------------------------------------------------------------------------------

def small_file(block: bytearray, index: int, version: int = 0) -> bytes:
    """A distinct content per (index, version): one random block with a unique head."""
    block[:16] = (version << 64 | index).to_bytes(16, "big")
    return bytes(block)


async def upload(server, dataset: Dataset, items, concurrency: int) -> list[ManifestEntry]:
    """Put ``(path, data)`` items (bytes or a local file) as content objects; return entries."""
    entries: list[ManifestEntry] = []
    slots = asyncio.Semaphore(concurrency)
    async with object_store_from_url(dataset.lake_url, **store_options(server, concurrency)) as store:
        async def put(path: str, data: bytes | Path) -> None:
            try:
                if isinstance(data, Path):
                    sha, size = await asyncio.to_thread(_file_sha256, data)
                else:
                    sha, size = hashlib.sha256(data).hexdigest(), len(data)
                info = await store.put(content_key(sha), data)
                entries.append(ManifestEntry(path=path, size=size, sha256=sha, etag=info.etag))
            finally:
                slots.release()

        async with asyncio.TaskGroup() as group:
            for path, data in items:
                await slots.acquire()  # bounds the data held in memory, not only the requests
                group.create_task(put(path, data))
    return entries


def _file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def commit_of(entries: list[ManifestEntry]) -> tuple[str, bytes]:
    with ManifestBuilder() as builder:
        for entry in entries:
            builder.add(entry)
        built = builder.build()
        return built.commit_id, built.path.read_bytes()


async def make_small(server, files: int, size: int, concurrency: int, changed_version: bool) -> Dataset:
    dataset = Dataset(f"fill-{uuid.uuid4().hex[:10]}", f"datasets/{PROJECT}/{DATASET}", files, files * size)
    await make_bucket(server, dataset.bucket)
    block = bytearray(os.urandom(size))
    paths = [f"d{i // 100:04}/f{i:06}.bin" for i in range(files)]
    first = await upload(server, dataset, ((p, small_file(block, i)) for i, p in enumerate(paths)), concurrency)
    dataset.commits.append(commit_of(first))
    if changed_version:
        dataset.commits.append(await second_version(server, dataset, first, block, concurrency))
    return dataset


async def second_version(server, dataset: Dataset, first: list[ManifestEntry], block: bytearray,
                         concurrency: int) -> tuple[str, bytes]:
    """Version 2: every 20th file (5 %) gets new content; only those objects are uploaded."""
    ordered = sorted(first, key=lambda e: e.path)
    changed = {i: e.path for i, e in enumerate(ordered) if i % 20 == 0}
    new = await upload(server, dataset, ((p, small_file(block, i, 1)) for i, p in changed.items()), concurrency)
    by_path = {e.path: e for e in ordered} | {e.path: e for e in new}
    return commit_of(list(by_path.values()))


async def make_big(server, files: int, size: int, work: Path, concurrency: int) -> Dataset:
    dataset = Dataset(f"fill-{uuid.uuid4().hex[:10]}", f"datasets/{PROJECT}/{DATASET}", files, files * size)
    await make_bucket(server, dataset.bucket)
    block = bytearray(os.urandom(8 << 20))
    entries = []
    for i in range(files):  # one at a time through a local file: a GiB never sits in memory
        source = work / f"big-{i}.bin"
        with source.open("wb") as handle:
            for offset in range(0, size, len(block)):
                block[:16] = (i << 64 | offset).to_bytes(16, "big")
                handle.write(block[: min(len(block), size - offset)])
        entries += await upload(server, dataset, [(f"big/{i:03}.bin", source)], concurrency)
        source.unlink()
    dataset.commits.append(commit_of(entries))
    return dataset


# --- the contenders ---------------------------------------------------------------------------

async def manifest_chunks(data: bytes):
    yield data


async def lakecache_fill(server, dataset: Dataset, volume: Path, commit: int, args) -> float:
    commit_id, manifest = dataset.commits[commit]
    open_store = functools.partial(object_store_from_url, **store_options(server, args.concurrency))
    options = FetchOptions(max_concurrency=args.concurrency, fsync=not args.no_fsync)
    started = time.perf_counter()
    result = await fill_commit(volume, PROJECT, DATASET, commit_id, manifest_chunks(manifest), open_store,
                               lake_url=dataset.lake_url, parents=[], options=options)
    seconds = time.perf_counter() - started
    assert result.files == dataset.files and not result.already_ready, result
    return seconds


def peer_argv(name: str, tool: str, server, dataset: Dataset, dest: Path, concurrency: int) -> list[str]:
    source = f"s3://{dataset.bucket}/{dataset.objects_prefix}"
    if name == "s5cmd cp":
        return [tool, "--endpoint-url", server.endpoint_url, "--numworkers", str(concurrency), "cp",
                f"{source}/*", f"{dest}/"]
    if name == "rclone copy":
        return ["env", "-u", "AWS_CA_BUNDLE", tool, "copy", f":s3:{dataset.bucket}/{dataset.objects_prefix}",
                str(dest), "--s3-provider", "Other", "--s3-endpoint", server.endpoint_url,
                "--s3-access-key-id", server.access_key, "--s3-secret-access-key", server.secret_key,
                "--s3-region", server.region, "--transfers", str(concurrency), "--checkers", str(concurrency)]
    return [tool, "--endpoint-url", server.endpoint_url, "s3", "cp", "--recursive", "--only-show-errors",
            source, str(dest)]


async def peer_copy(name: str, tool: str, server, dataset: Dataset, dest: Path, args, work: Path
                    ) -> tuple[float, float]:
    """Seconds to copy, then seconds for ``syncfs`` to make the copy durable."""
    env = peer_env(server)
    config = work / "aws-config"
    # aws has no command-line switch for parallelism: give it the same concurrency by config.
    config.write_text(f"[default]\ns3 =\n    max_concurrent_requests = {args.concurrency}\n")
    env.update(AWS_CONFIG_FILE=str(config), RCLONE_CONFIG=str(work / "rclone.conf"))
    argv = peer_argv(name, tool, server, dataset, dest, args.concurrency)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}")
    # The peers leave their copy in the page cache; a LakeCache fill is durable when it
    # returns. The time to make the peer's copy durable too is measured on its own.
    sync_started = time.perf_counter()
    await asyncio.to_thread(sync_directory_filesystem, dest)
    synced = time.perf_counter() - sync_started
    copied = sum(len(files) for _, _, files in os.walk(dest))
    if copied < dataset.files:
        raise RuntimeError(f"{name} copied {copied} of {dataset.files} files")
    return seconds, synced


def sync_directory_filesystem(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sync_filesystem(fd)
    finally:
        os.close(fd)


def wipe(path: Path) -> None:
    crash_trials.discard_volume(path)  # also handles the read-only views
    # Untimed: the next contender starts with nothing of this one left to write back (its
    # deletions included), so no timing pays for its predecessor's dirty pages.
    sync_directory_filesystem(path.parent)


async def measure(server, dataset: Dataset, tools: dict[str, str], args, work: Path, *,
                  second_version: bool = False, peers: bool = True) -> dict[str, list[float]]:
    """Medians' raw material: per run a fresh volume for LakeCache and a fresh directory per peer,
    each removed (outside the timings) before the next copy so the disk never holds two."""
    times: dict[str, list[float]] = {}
    for run in range(args.runs):
        volume = work / "volume"
        volume.mkdir()
        try:
            if second_version:  # the first version is already on the volume, untimed
                await lakecache_fill(server, dataset, volume, 0, args)
            times.setdefault(LAKECACHE, []).append(
                await lakecache_fill(server, dataset, volume, 1 if second_version else 0, args))
        finally:
            wipe(volume)
        for name, tool in tools.items() if peers else ():
            dest = work / "peer"
            dest.mkdir()
            try:
                seconds, synced = await peer_copy(name, tool, server, dataset, dest, args, work)
                times.setdefault(name, []).append(seconds)
                times.setdefault(name + SYNCED, []).append(seconds + synced)
            finally:
                wipe(dest)
        print(f"  run {run + 1}/{args.runs}: " + ", ".join(
            f"{k} {v[-1]:.2f}s" for k, v in times.items() if not k.endswith(SYNCED)), flush=True)
    return times


def report(title: str, files: int, total_bytes: int, times: dict[str, list[float]],
           peer_times: dict[str, list[float]] | None = None) -> None:
    """``peer_times``: the peers' runs to compare with, when they copied other data (scenario c)."""
    medians = {name: statistics.median(v) for name, v in times.items() if v}
    print(f"\n{title}: {files} objects, {total_bytes / 1e6:.0f} MB")
    print(f"{'tool':<24}{'seconds':>10}{'objects/s':>12}{'MB/s':>10}")
    for name, seconds in medians.items():
        print(f"{name:<24}{seconds:>10.2f}{files / seconds:>12.0f}{total_bytes / 1e6 / seconds:>10.1f}")
    peers = {n: statistics.median(v) for n, v in (peer_times or times).items() if v and n != LAKECACHE}
    for name, seconds in peers.items():
        print(f"{LAKECACHE} ÷ {name}: {seconds / medians[LAKECACHE]:.2f}× the throughput "
              f"({medians[LAKECACHE] / seconds:.2f}× the time)")


def disk_ceiling(work: Path, size: int) -> float:
    """Sequential write of ``size`` bytes in 256 KiB blocks, then fsync (like ``dd conv=fsync``); GB/s.

    256 KiB, not larger: writes of 2 MiB and more get huge page-cache folios, whose first use
    on this kind of host can cost 10× the copy (see the fetcher's ``_WRITE_SLICE``); the
    ceiling must be the disk's, not that."""
    block = os.urandom(256 << 10)
    target = work / "ceiling.bin"
    started = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(max(1, size // len(block))):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    written = target.stat().st_size
    target.unlink()
    return written / 1e9 / seconds


# --- main ---------------------------------------------------------------------------------------

def bench(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-fill-"))
    server = start_server("s3", work / "servers")
    print(f"versitygw at {server.endpoint_url}; work directory {work}", flush=True)
    try:
        if args.kill_trials:
            kill_trials(server, work, args)  # blocking, with event loops of its own
        if args.scenario != "none":
            asyncio.run(scenarios(server, work, args))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


async def scenarios(server, work: Path, args: argparse.Namespace) -> None:
    ceiling = disk_ceiling(work, args.ceiling_size)
    print(f"disk write ceiling (sequential, {args.ceiling_size / 2**30:.1f} GiB + fsync): {ceiling:.2f} GB/s",
          flush=True)
    tools = {name: tool for name, tool in (
        ("s5cmd cp", find_tool("s5cmd", "s5cmd")), ("rclone copy", shutil.which("rclone")),
        ("aws s3 cp", find_tool("aws", "awscli"))) if tool}
    missing = set(PEERS) - set(tools)
    if missing:
        print(f"  skipped (not installed): {', '.join(sorted(missing))}; rclone: apt-get install -y rclone")
    chosen = set("abc") if args.scenario == "all" else {args.scenario}
    if chosen & {"a", "c"}:
        print(f"\nuploading {args.files} × {args.size} bytes …", flush=True)
        small = await make_small(server, args.files, args.size, args.concurrency, "c" in chosen)
        sync_directory_filesystem(work)  # the upload's writeback is no contender's to pay
        print("(a) cold fill vs full copy", flush=True)
        # The peers' full copy of version 2 is as large as version 1's: (c) compares with these.
        a_times = await measure(server, small, tools, args, work)
        report(f"(a) {args.files} × {args.size} B", small.files, small.bytes, a_times)
        if "c" in chosen:
            print("\n(c) second version, 5 % changed, onto a volume holding the first", flush=True)
            c_times = await measure(server, small, tools, args, work, second_version=True, peers=False)
            report(f"(c) version 2 of {args.files} × {args.size} B (peers: full copy, from (a))",
                   small.files, small.bytes, c_times, a_times)
        shutil.rmtree(server.root / small.bucket, ignore_errors=True)
    if "b" in chosen:
        print(f"\nuploading {args.big_files} × {args.big_size} bytes …", flush=True)
        big = await make_big(server, args.big_files, args.big_size, work, args.concurrency)
        sync_directory_filesystem(work)
        print("(b) cold fill vs full copy", flush=True)
        b_times = await measure(server, big, tools, args, work)
        report(f"(b) {args.big_files} × {args.big_size} B", big.files, big.bytes, b_times)
        shutil.rmtree(server.root / big.bucket, ignore_errors=True)
    print(f"\ndisk write ceiling: {ceiling:.2f} GB/s; a LakeCache fill is durable when it returns"
          + (" (off: --no-fsync)" if args.no_fsync else f"; the peers' is not until '{SYNCED.strip()}'"))


def kill_trials(server, work: Path, args: argparse.Namespace) -> None:
    print(f"\ncrash trials: {args.kill_trials} × kill -9 of a fill of {args.kill_objects} objects, "
          f"seed {args.seed}", flush=True)
    rng = random.Random(args.seed)
    lake = asyncio.run(crash_trials.upload_commit(
        server, crash_trials.synthetic_files(args.kill_objects, args.seed), work / "crash"))
    worst, failures = 0, 0
    for trial in range(args.kill_trials):
        volume = work / f"crash-volume-{trial}"
        volume.mkdir()
        try:
            result = crash_trials.run_trial(trial, lake, server, volume, work / "crash-logs", rng,
                                            concurrency=args.concurrency)
            problems = crash_trials.view_problems(volume, lake) + crash_trials.leftovers(volume)
            if result.gets_max > 2 or problems:
                failures += 1
                print(f"  FAILED: {problems[:5]} max GETs per key {result.gets_max}")
            worst = max(worst, result.gets_max)
            print("  " + result.describe(lake.objects), flush=True)
        except crash_trials.TrialFailure as exc:
            failures += 1
            print(f"  trial {trial} FAILED: {exc}", flush=True)
        finally:
            crash_trials.discard_volume(volume)
    print(f"crash trials: {args.kill_trials - failures}/{args.kill_trials} passed, "
          f"at most {worst} GETs per object", flush=True)
    shutil.rmtree(server.root / lake.bucket, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000, help="(a)/(c): number of files (default 20000)")
    parser.add_argument("--size", type=parse_size, default=400_000, help="(a)/(c): bytes per file (default 400000)")
    parser.add_argument("--big-files", type=int, default=4, help="(b): number of files (default 4)")
    parser.add_argument("--big-size", type=parse_size, default=1 << 30, help="(b): bytes per file (default 1GiB)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; medians are reported (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel requests for every tool (default 16)")
    parser.add_argument("--scenario", choices=["a", "b", "c", "all", "none"], default="all",
                        help="a: small files, b: big files, c: 5%%-changed second version; none: only --kill-trials")
    parser.add_argument("--no-fsync", action="store_true", help="LakeCache skips its syncs, like the peers")
    parser.add_argument("--ceiling-size", type=parse_size, default=2 << 30, help="bytes for the disk ceiling (2GiB)")
    parser.add_argument("--kill-trials", type=int, default=0, help="crash trials to run first (default 0)")
    parser.add_argument("--kill-objects", type=int, default=10_000, help="objects in the crash trials' commit")
    parser.add_argument("--seed", type=int, default=20250611, help="seed of the crash trials' kill points")
    args = parser.parse_args()
    if min(args.files, args.size, args.big_files, args.big_size, args.runs, args.concurrency) < 1 or args.size < 16:
        parser.error("counts and sizes must be positive, --size at least 16")
    bench(args)


if __name__ == "__main__":
    main()
