"""Crash trials of a fill: start ``crash_worker`` in its own process, ``SIGKILL`` it at chosen
points, start it again until it completes, and check the volume and the S3 server's GETs.

Shared by ``tests/cacher/test_crash_resume.py`` and ``bench/cacher_fill.py --kill-trials``.
Everything here is blocking; call it from synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import content_key
from lakecache.core.manifest import ManifestBuilder, ManifestEntry

REPO = Path(__file__).resolve().parents[2]
PROJECT, DATASET = "team", "ds"
GET_OPERATION = "s3_GetObject"
PHASES = ("planning", "fetching", "linking")


class TrialFailure(AssertionError):
    pass


@dataclass(frozen=True)
class LakeCommit:
    """A commit uploaded to a bucket: what a fill must reproduce, and the keys it may GET."""

    bucket: str
    lake_url: str
    commit_id: str
    manifest_path: Path
    entries: dict[str, tuple[str, int]]  # path -> (sha256, size)
    keys: frozenset[str]  # object keys in the bucket, one per distinct content

    @property
    def objects(self) -> int:
        return len(self.keys)


def store_options(server) -> dict:
    return {"endpoint_url": server.endpoint_url, "region": server.region,
            "access_key_id": server.access_key, "secret_access_key": server.secret_key}


def synthetic_files(count: int, seed: int, min_size: int = 1024, max_size: int = 4096):
    """``count`` (path, bytes) pairs: distinct contents (the index leads each one), sizes
    between ``min_size`` and ``max_size``, spread over two levels of directories."""
    rng = random.Random(seed)
    for i in range(count):
        size = rng.randint(min_size, max_size)
        yield f"shard-{i % 16:02}/group-{(i // 16) % 25:02}/item-{i:06}.bin", i.to_bytes(8, "big") + rng.randbytes(
            size - 8)


async def upload_commit(server, files, work: Path, *, concurrency: int = 32) -> LakeCommit:
    """Create a bucket, put every content under the dataset's lake prefix, write the manifest."""
    bucket = f"crash-{uuid.uuid4().hex[:10]}"
    async with server.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    prefix = f"datasets/{PROJECT}/{DATASET}"
    lake_url = f"s3://{bucket}/{prefix}"
    slots = asyncio.Semaphore(concurrency)
    entries: dict[str, tuple[str, int]] = {}
    manifest_entries: list[ManifestEntry] = []

    async with object_store_from_url(lake_url, **store_options(server), max_concurrency=concurrency) as store:
        async def put(path: str, data: bytes) -> None:
            sha = hashlib.sha256(data).hexdigest()
            async with slots:
                info = await store.put(content_key(sha), data)
            entries[path] = (sha, len(data))
            manifest_entries.append(ManifestEntry(path=path, size=len(data), sha256=sha, etag=info.etag))

        pending: set[asyncio.Task] = set()
        for path, data in files:
            pending.add(asyncio.create_task(put(path, data)))
            if len(pending) >= concurrency * 4:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
        for task in pending:
            await task
    with ManifestBuilder() as builder:
        for entry in manifest_entries:
            builder.add(entry)
        built = builder.build()
        work.mkdir(parents=True, exist_ok=True)
        manifest_path = work / f"{built.commit_id}.manifest.gz"
        manifest_path.write_bytes(built.path.read_bytes())
    keys = frozenset(f"{prefix}/{content_key(sha)}" for sha, _ in entries.values())
    return LakeCommit(bucket, lake_url, built.commit_id, manifest_path, entries, keys)


# --- the S3 server's access log ------------------------------------------------------------

async def _head_marker(server, bucket: str, marker: str) -> None:
    async with server.client() as s3:
        with contextlib.suppress(ClientError):
            await s3.head_object(Bucket=bucket, Key=marker)


def log_marker(server, bucket: str, timeout: float = 15.0) -> str:
    """Send a request with a unique key and wait until it is in the access log: every request
    answered before it is logged by then."""
    marker = f"log-marker-{uuid.uuid4().hex}"
    asyncio.run(_head_marker(server, bucket, marker))
    deadline = time.monotonic() + timeout
    while marker not in server.access_log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise TrialFailure(f"{marker} did not reach the access log {server.access_log} in {timeout}s")
        time.sleep(0.05)
    return marker


def gets_between(server, start_marker: str, end_marker: str) -> dict[str, int]:
    """GETs per object key logged between two markers."""
    text = server.access_log.read_text(errors="replace")
    section = text.split(start_marker, 1)[1].split(end_marker, 1)[0]
    counts: dict[str, int] = {}
    for line in section.splitlines():
        tokens = line.split()
        if GET_OPERATION in tokens:
            key = tokens[tokens.index(GET_OPERATION) + 1]
            counts[key] = counts.get(key, 0) + 1
    return counts


# --- the volume ------------------------------------------------------------------------------

def view_path(volume: Path, commit: LakeCommit) -> Path:
    return volume / PROJECT / DATASET / commit.commit_id


def marker_path(volume: Path, commit: LakeCommit) -> Path:
    return volume / PROJECT / DATASET / f"{commit.commit_id}.ready"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def view_problems(volume: Path, commit: LakeCommit, *, full: bool = True) -> list[str]:
    """What is wrong with the commit's view: missing, extra, different or writable files, and
    (``full``) files that are not hardlinks into the pool. Empty when the view is right."""
    view = view_path(volume, commit)
    problems: list[str] = []
    found: set[str] = set()
    for directory, dirs, files in os.walk(view):
        for name in dirs:
            mode = stat.S_IMODE(os.lstat(os.path.join(directory, name)).st_mode)
            if mode & 0o222:
                problems.append(f"directory {name!r} in {directory} is writable ({oct(mode)})")
        for name in files:
            path = Path(directory, name)
            relative = path.relative_to(view).as_posix()
            found.add(relative)
            expected = commit.entries.get(relative)
            if expected is None:
                problems.append(f"unexpected file {relative}")
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{relative} is not a regular file")
                continue
            if info.st_size != expected[1] or _sha256(path) != expected[0]:
                problems.append(f"{relative}: content differs from the manifest (size {info.st_size})")
            if stat.S_IMODE(info.st_mode) & 0o222:
                problems.append(f"{relative} is writable ({oct(stat.S_IMODE(info.st_mode))})")
            if full:
                pool = volume / ".lakecache/pool/sha256" / expected[0][:2] / expected[0]
                try:
                    same = pool.lstat().st_ino == info.st_ino and info.st_nlink >= 2
                except FileNotFoundError:
                    same = False
                if not same:
                    problems.append(f"{relative} is not a hardlink of pool object {expected[0]}")
    missing = commit.entries.keys() - found
    if missing:
        problems.append(f"{len(missing)} files missing, e.g. {sorted(missing)[:3]}")
    return problems


def leftovers(volume: Path) -> list[str]:
    """Entries left in the volume's temp, staging and trash directories."""
    found = []
    for area in ("tmp", "staging", "trash"):
        directory = volume / ".lakecache" / area
        if directory.exists():
            found.extend(f"{area}/{name}" for name in os.listdir(directory))
    return found


def published_state(volume: Path, commit: LakeCommit) -> str:
    """After a kill: ``none``, ``ready`` (view and marker) or ``view-without-marker`` (killed
    between the view's rename and its marker). Raises ``TrialFailure`` for a partial view
    or a marker without a complete view."""
    view, marker = view_path(volume, commit), marker_path(volume, commit)
    if not view.exists():
        if marker.exists():
            raise TrialFailure(f"ready marker {marker} exists but the view does not")
        return "none"
    problems = view_problems(volume, commit, full=False)
    if problems:
        raise TrialFailure(f"a partial view was published at {view}: {problems[:5]}")
    return "ready" if marker.exists() else "view-without-marker"


def discard_volume(volume: Path) -> None:
    """Remove a volume tree whose views are read-only."""
    if not volume.exists():
        return
    for directory, dirs, _ in os.walk(volume):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(directory, name), 0o755, follow_symlinks=False)
    subprocess.run(["rm", "-rf", str(volume)], check=False)


# --- one trial ---------------------------------------------------------------------------------

@dataclass
class Kill:
    target: str  # the phase the kill was aimed at
    planned: str  # the trigger: seconds after the phase began, or a fraction of objects fetched
    landed: str = ""  # the last phase the worker reported before it died ("exited": it finished first)
    seconds: float = 0.0  # since the worker started
    objects_done: int = 0
    state: str = ""  # published_state after the kill


@dataclass
class TrialReport:
    index: int
    kills: list[Kill] = field(default_factory=list)
    starts: int = 0
    seconds: float = 0.0
    gets: dict[str, int] = field(default_factory=dict)

    @property
    def gets_total(self) -> int:
        return sum(self.gets.values())

    @property
    def gets_max(self) -> int:
        return max(self.gets.values(), default=0)

    def describe(self, objects: int) -> str:
        kills = "; ".join(
            f"{k.target}@{k.planned} -> killed in {k.landed} at {k.seconds:.2f}s "
            f"({k.objects_done} objects done, view: {k.state})" for k in self.kills)
        return (f"trial {self.index}: {self.starts} starts, {self.seconds:.1f}s, GETs {self.gets_total} for "
                f"{objects} objects ({self.gets_total / objects:.3f}/object, max {self.gets_max} per key) | {kills}")


def plan_kills(rng: random.Random, trial: int) -> list[Kill]:
    """Kills for one trial, in the order the phases come, at random points: every trial kills
    once while fetching, and by turns during planning, while linking the view in staging,
    and while publishing (as soon as the view's rename is visible, before or after its
    marker). One kill mid-transfer per trial: the ≤ 2 GETs per object bound is about that."""
    pattern = [("planning", "fetching", "linking"), ("planning", "fetching", "publishing"),
               ("fetching", "linking"), ("fetching", "linking", "publishing")][trial % 4]
    kills = []
    for target in pattern:
        if target == "planning":
            kills.append(Kill(target, f"+{rng.uniform(0.0, 0.15):.3f}s"))
        elif target == "fetching":
            kills.append(Kill(target, f"{rng.uniform(0.05, 0.95):.2f}"))
        elif target == "linking":
            kills.append(Kill(target, f"+{rng.uniform(0.0, 0.3):.3f}s"))
        else:
            kills.append(Kill(target, "view"))
    return kills


class Worker:
    """One ``crash_worker`` process and the JSON lines it printed so far."""

    def __init__(self, commit: LakeCommit, server, volume: Path, log_dir: Path, concurrency: int, run: str) -> None:
        self.out = log_dir / f"{run}.out"
        self.err = log_dir / f"{run}.err"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
               "AWS_REGION": server.region, "PYTHONPATH": str(REPO)}
        argv = [sys.executable, "-m", "tests.cacher.crash_worker", "--volume", str(volume),
                "--lake-url", commit.lake_url, "--manifest", str(commit.manifest_path), "--commit", commit.commit_id,
                "--endpoint-url", server.endpoint_url, "--project", PROJECT, "--dataset", DATASET,
                "--concurrency", str(concurrency)]
        self.started = time.monotonic()
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=err)
        self.records: list[dict] = []
        self._offset = 0
        self.phase_seen: dict[str, float] = {}

    def poll(self) -> dict:
        """Read new lines; returns the last record (``{}`` before the first)."""
        with self.out.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        for line in data[:complete].splitlines():
            record = json.loads(line)
            self.records.append(record)
            self.phase_seen.setdefault(record["phase"], time.monotonic())
        return self.records[-1] if self.records else {}

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stderr_tail(self) -> str:
        return self.err.read_text(errors="replace")[-2000:]


def _due(kill: Kill, worker: Worker, last: dict, view: Path) -> bool:
    if kill.target in ("planning", "linking"):
        seen = worker.phase_seen.get(kill.target)
        return seen is not None and time.monotonic() - seen >= float(kill.planned.lstrip("+").rstrip("s"))
    if kill.target == "publishing":
        if "linking" not in worker.phase_seen:
            return False
        # The rename and the marker are milliseconds apart: spin on the view, without sleeping.
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            if view.exists():
                return True
        return False
    total = last.get("objects_total") or 0
    return last.get("phase") == "fetching" and total > 0 and last["objects_done"] >= float(kill.planned) * total


def run_trial(index: int, commit: LakeCommit, server, volume: Path, log_dir: Path, rng: random.Random, *,
              concurrency: int = 16, timeout: float = 600.0, kills: list[Kill] | None = None) -> TrialReport:
    """Kill the worker as ``kills`` (default ``plan_kills``) say, then let it complete; checks
    the published state after every kill and raises ``TrialFailure`` on the first problem."""
    report = TrialReport(index, kills if kills is not None else plan_kills(rng, index))
    log_dir.mkdir(parents=True, exist_ok=True)
    start_marker = log_marker(server, commit.bucket)
    started = time.monotonic()
    for kill in report.kills:
        report.starts += 1
        worker = Worker(commit, server, volume, log_dir, concurrency, f"trial{index}-run{report.starts}")
        while True:
            last = worker.poll()
            if worker.process.poll() is not None:
                worker.poll()
                if worker.process.returncode != 0:
                    raise TrialFailure(f"worker failed ({worker.process.returncode}): {worker.stderr_tail()}")
                kill.landed = "exited"
                break
            if _due(kill, worker, last, view_path(volume, commit)):
                worker.kill()
                last = worker.poll() or last
                kill.landed = last.get("phase", "starting")
                if kill.landed == "linking" and view_path(volume, commit).exists():
                    kill.landed = "publishing"  # renamed into place; no progress report marks it
                elif kill.landed in ("done", "result"):
                    kill.landed = "completed"  # the fill had finished; only the exit was left
                break
            if time.monotonic() - worker.started > timeout:
                worker.kill()
                raise TrialFailure(f"worker ran longer than {timeout}s: {worker.stderr_tail()}")
            time.sleep(0.005)
        kill.seconds = time.monotonic() - worker.started
        kill.objects_done = last.get("objects_done", 0)
        kill.state = published_state(volume, commit)
        if kill.landed == "exited":
            break
    if not marker_path(volume, commit).exists():
        report.starts += 1
        worker = Worker(commit, server, volume, log_dir, concurrency, f"trial{index}-run{report.starts}")
        try:
            code = worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise TrialFailure(f"the final run took longer than {timeout}s: {worker.stderr_tail()}") from None
        if code != 0:
            raise TrialFailure(f"the final run failed ({code}): {worker.stderr_tail()}")
    report.seconds = time.monotonic() - started
    report.gets = gets_between(server, start_marker, log_marker(server, commit.bucket))
    return report
