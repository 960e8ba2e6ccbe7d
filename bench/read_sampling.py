"""Benchmark: what one look at a copy's view costs (``cacher.volume.reads.look``), per sample.

Fills one commit of ``--files`` small files (``--per-dir`` per directory, distinct contents) onto
a volume in a temp directory with the real fill, then times, ``--runs`` times each (median):

* the first look (baseline: arms what the fill left);
* a look at a view nobody read (what most samples of most copies cost);
* a look after 1% of the files were read and every directory listed (it arms them again).

    .venv/bin/python -m bench.read_sampling                      # 20,000 files, 100 per directory
    .venv/bin/python -m bench.read_sampling --files 2000 --runs 3

Default directory: the system temp directory (``--dir`` for another filesystem, e.g. an NFS mount).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from lakecache.cacher.fill import fill_commit
from lakecache.cacher.volume import VolumeLayout
from lakecache.cacher.volume.reads import look
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import join_url
from tests.cacher.helpers import chunks, make_commit


async def filled(root: Path, files: int, per_dir: int) -> str:
    lake = join_url((root / "lake").as_uri(), "bench", "ds")
    tree = {f"d{n // per_dir:05d}/f{n:06d}.bin": n.to_bytes(8, "big") + os.urandom(24) for n in range(files)}
    commit, manifest = await make_commit(lake, tree)
    volume = root / "volume"
    volume.mkdir()
    await fill_commit(volume, "bench", "ds", commit, chunks(manifest), object_store_from_url, lake_url=lake,
                      parents=[], check_space=False)
    return commit


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--per-dir", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        commit = asyncio.run(filled(root, args.files, args.per_dir))
        print(f"filled {args.files} files in {time.perf_counter() - started:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}")
        layout = VolumeLayout.at(root / "volume")
        view = root / "volume" / "bench" / "ds" / commit

        def first() -> None:
            look(layout, "bench", "ds", commit, baseline=True)

        def unread() -> None:
            assert look(layout, "bench", "ds", commit, baseline=False).read_at_ns is None

        def after_reads() -> None:
            for directory in sorted(view.iterdir()):
                names = sorted(os.listdir(directory))
                for name in names[:: 100]:
                    (directory / name).read_bytes()
            started = time.perf_counter()
            found = look(layout, "bench", "ds", commit, baseline=False)
            timings.append(time.perf_counter() - started)
            assert found.read_at_ns is not None and found.files_read >= args.files // 100

        print(f"first look (baseline):           {timed(first, 1) * 1000:8.1f} ms")
        print(f"look, nothing read:              {timed(unread, args.runs) * 1000:8.1f} ms (median of {args.runs})")
        timings: list[float] = []
        for _ in range(args.runs):
            after_reads()
        print(f"look, 1% read and dirs listed:   {statistics.median(timings) * 1000:8.1f} ms "
              f"(median of {args.runs})")


if __name__ == "__main__":
    main()
