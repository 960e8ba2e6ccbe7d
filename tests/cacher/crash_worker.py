"""A cacher fill as its own process, for crash trials: ``kill -9`` it anywhere, start it again.

Fills one commit from an S3 lake into a volume with ``fill_commit`` and prints one JSON line
per step to stdout (flushed at once, so a parent that kills the process knows the last phase
it reached): ``{"phase": "planning"}`` before the fill starts, the fill's progress reports
(``fetching``, ``linking``, ``done``) and finally ``{"phase": "result", ...}`` with the
``FillResult``. Exit status 0 on success, 3 on ``FillError``.

    python -m tests.cacher.crash_worker --volume DIR --lake-url s3://bucket/prefix \\
        --manifest commit.manifest.gz --commit <sha256> --endpoint-url http://127.0.0.1:PORT

Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_REGION``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from lakecache.cacher.fill import FetchOptions, FillError, fill_commit
from lakecache.core.adapters.registry import object_store_from_url

EXIT_FILL_ERROR = 3


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps({**record, "t": time.time()}) + "\n")
    sys.stdout.flush()


async def manifest_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block


def on_progress(progress) -> None:
    emit({"phase": progress.phase, "objects_done": progress.objects_done,
          "objects_total": progress.objects_total, "files_total": progress.files_total})


async def run(args: argparse.Namespace) -> int:
    store_options = {
        "endpoint_url": args.endpoint_url, "region": os.environ.get("AWS_REGION", "us-east-1"),
        "access_key_id": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "max_concurrency": args.concurrency,
    }
    open_store = functools.partial(object_store_from_url, **store_options)
    options = FetchOptions(max_concurrency=args.concurrency, fsync=not args.no_fsync)
    emit({"phase": "planning", "pid": os.getpid()})
    try:
        result = await fill_commit(
            args.volume, args.project, args.dataset, args.commit, manifest_chunks(args.manifest), open_store,
            lake_url=args.lake_url, parents=[], on_progress=on_progress, options=options,
            progress_interval=args.progress_interval,
        )
    except FillError as exc:
        emit({"phase": "failed", "reason": exc.reason, "retryable": exc.retryable})
        return EXIT_FILL_ERROR
    emit({"phase": "result", "files": result.files, "size_bytes": result.size_bytes,
          "objects_fetched": result.objects_fetched, "bytes_fetched": result.bytes_fetched,
          "already_ready": result.already_ready, "seconds": result.duration_seconds})
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volume", type=Path, required=True)
    parser.add_argument("--lake-url", required=True, help="the dataset's lake location, s3://bucket/prefix")
    parser.add_argument("--manifest", type=Path, required=True, help="the commit's gzip manifest file")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--project", default="team")
    parser.add_argument("--dataset", default="ds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--progress-interval", type=float, default=0.05)
    parser.add_argument("--no-fsync", action="store_true", help="skip fsyncs (a benchmark's peers do not sync)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
