"""Manifests: canonical commit ids, bounded-memory sorting, streaming reads, diffs."""

import gzip
import hashlib
import random
import subprocess
import sys
import textwrap

import pytest

from lakecache.core.manifest import (
    ManifestBuilder,
    ManifestEntry,
    UnsafePaths,
    diff_manifests,
    iter_manifest,
    read_manifest_file,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entries(n: int, salt: str = "") -> list[ManifestEntry]:
    return [ManifestEntry(path=f"d{i % 7}/f{i:05d}.bin", size=i, sha256=sha(f"{salt}{i}")) for i in range(n)]


def build(items, parents=(), **options):
    with ManifestBuilder(**options) as builder:
        for item in items:
            builder.add(item)
        built = builder.build(parents)
        built.data = built.path.read_bytes()  # the builder's directory goes away on exit
        return built, list(read_manifest_file(built.path))


async def stream(items):
    for item in items:
        yield item


def test_identical_content_gives_identical_commit_id_whatever_the_order_or_location():
    items = entries(50)
    shuffled = random.Random(7).sample(items, len(items))
    relocated = [e.model_copy(update={"etag": '"x"', "object": "elsewhere/" + e.path}) for e in items]
    first, _ = build(items)
    assert build(shuffled)[0].commit_id == first.commit_id
    assert build(relocated)[0].commit_id == first.commit_id
    assert (first.files, first.bytes) == (50, sum(range(50)))


def test_content_size_path_and_parents_all_change_the_id():
    base = build(entries(5))[0].commit_id
    changed = entries(5)
    changed[2] = changed[2].model_copy(update={"sha256": sha("other")})
    renamed = entries(5)
    renamed[0] = renamed[0].model_copy(update={"path": "zz/new.bin"})
    ids = {
        base,
        build(changed)[0].commit_id,
        build(renamed)[0].commit_id,
        build(entries(5), parents=[base])[0].commit_id,
    }
    assert len(ids) == 4


def test_nfd_and_nfc_spellings_of_a_tree_give_one_commit_id_and_nfc_paths():
    nfc = [ManifestEntry(path="caf\u00e9/x.txt", size=1, sha256=sha("x"))]
    nfd = [ManifestEntry(path="cafe\u0301/x.txt", size=1, sha256=sha("x"))]
    (a, rows_a), (b, rows_b) = build(nfc), build(nfd)
    assert a.commit_id == b.commit_id
    assert rows_a == rows_b == nfc


def test_spilled_runs_merge_to_the_same_manifest_as_one_in_memory_sort():
    items = random.Random(1).sample(entries(500), 500)
    (small, rows_small), (large, rows_large) = build(items, run_entries=7), build(items, run_entries=10_000)
    assert small.commit_id == large.commit_id
    assert rows_small == rows_large
    assert [r.path for r in rows_small] == sorted((r.path for r in rows_small), key=lambda p: p.replace("/", "\0"))


def test_unsafe_paths_are_all_listed_and_nothing_is_written(tmp_path):
    bad = [*entries(3), ManifestEntry(path="../escape", size=1, sha256=sha("e")),
           ManifestEntry(path="d0", size=1, sha256=sha("f")), ManifestEntry(path="/abs", size=1, sha256=sha("g"))]
    output = tmp_path / "m.jsonl.gz"
    with ManifestBuilder() as builder, pytest.raises(UnsafePaths) as caught:
        for item in bad:
            builder.add(item)
        builder.build(output=output)
    assert caught.value.total == 3
    assert {p.path for p in caught.value.problems} == {"../escape", "d0", "/abs"}
    assert "nothing was committed" in str(caught.value)
    assert not output.exists()


def test_invalid_parent_is_refused():
    with ManifestBuilder() as builder, pytest.raises(Exception, match="not a commit id"):
        builder.build(parents=["HEAD"])


async def test_streamed_reading_of_chunked_gzip_matches_the_file():
    built, rows = build(entries(300))
    data = built.data

    async def chunks(size):
        for i in range(0, len(data), size):
            yield data[i : i + size]

    for size in (1, 17, 4096, len(data)):
        assert [e async for e in iter_manifest(chunks(size))] == rows


async def test_truncated_manifest_is_an_error():
    built, _ = build(entries(300))
    data = built.data[:-20]

    async def chunks():
        yield data

    with pytest.raises(Exception, match="truncated"):
        [e async for e in iter_manifest(chunks())]


async def test_diff_reports_added_removed_and_changed_with_sizes():
    old = entries(6)
    new = [old[0], old[1].model_copy(update={"sha256": sha("v2"), "size": 999}), old[3], old[5],
           ManifestEntry(path="d9/new.bin", size=5, sha256=sha("n"))]
    _, old_rows = build(old)
    _, new_rows = build(new)
    got = [(d.kind, d.path, d.old_size, d.new_size) async for d in diff_manifests(stream(old_rows), stream(new_rows))]
    assert sorted(got) == sorted([
        ("changed", old[1].path, 1, 999),
        ("removed", old[2].path, 2, None),
        ("removed", old[4].path, 4, None),
        ("added", "d9/new.bin", None, 5),
    ])
    assert [d async for d in diff_manifests(stream(old_rows), stream(old_rows))] == []


def test_a_million_entry_manifest_builds_and_streams_in_bounded_memory(tmp_path):
    """Runs in a child process so its peak RSS is its own; prints the measurement."""
    script = textwrap.dedent(
        """
        import asyncio, hashlib, sys, time
        from lakecache.core.manifest import ManifestBuilder, ManifestEntry, iter_manifest
        N = 1_000_000
        started = time.monotonic()
        with ManifestBuilder() as builder:
            for i in range(N - 1, -1, -1):
                builder.add(ManifestEntry(path=f"shard{i % 1000:04d}/sample-{i:07d}.jpg", size=i % 4096,
                                          sha256=hashlib.sha256(i.to_bytes(8, "big")).hexdigest()))
            built = builder.build()
            async def count():
                async def chunks():
                    with open(built.path, "rb") as f:
                        while block := f.read(1 << 20):
                            yield block
                return sum([1 async for _ in iter_manifest(chunks())])
            listed = asyncio.run(count())
            size = built.path.stat().st_size
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so the child would
        # report the parent's (pytest's) peak.
        with open("/proc/self/status") as status:
            peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) // 1024
        print(f"{built.files} {listed} {peak} {size} {time.monotonic() - started:.1f}")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    files, listed, peak_mib, size, seconds = result.stdout.split()
    print(f"\n1M-entry manifest: peak RSS {peak_mib} MiB, {int(size) / 2**20:.1f} MiB compressed, {seconds}s")
    assert int(files) == int(listed) == 1_000_000
    # Holding a million entries in memory would take well over a gigabyte.
    assert int(peak_mib) < 300


def test_manifest_is_gzip_of_json_lines():
    built, rows = build(entries(3))
    lines = gzip.decompress(built.data).splitlines()
    assert [ManifestEntry.model_validate_json(line) for line in lines] == rows
    assert b'"etag"' not in lines[0]
