"""Class 6 of issue 11 (medium): commit integrity, what lies on a volume, and sync races.

Someone who can write the lake overwrites a commit's manifest; a local user who can write the
volume plants a directory (and a ready marker) at a view path, or a marker that is a link or
garbage; a local user races ``lakecache data sync`` — swapping a file for a symbolic link or a
FIFO, or rewriting it, between the scan and the read — and the user presses Ctrl-C. The
manifest is refused by name and never materialized; nothing planted is published; a bad marker
fails the fill clearly, logged; the sync publishes no link target, commits no wrong size,
skips the FIFO, and stops on Ctrl-C.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest
import pytest_asyncio

from lakecache.core.adapters.objects.local import LocalObjectStore
from tests.security.actors import VICTIM, Scene, leaks, write_tree
from tests.security.local_users import RacedCli, run_as_nobody

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = b"root-only: the cluster's signing key, which no sync may publish\n" * 97


def tree(name: str) -> dict[str, bytes]:
    return {"a.txt": f"{name}: genuine a\n".encode(), "sub/b.txt": f"{name}: genuine b\n".encode()}


def files_in(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


async def head_of(world: Scene, name: str) -> str | None:
    return (await world.ok(world["ada"], "GET", f"/api/v1/datasets/vision/{name}"))["head"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secret(world: Scene) -> Path:
    """A file only root may read, in a directory only root may enter."""
    private = world.root / "private"
    private.mkdir(mode=0o700)
    path = private / "signing.key"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


# --- what lies in the lake and on the volume ---------------------------------------------------

async def test_a_manifest_overwritten_in_the_lake_is_refused_by_name_and_never_materialized(world):
    ada = world["ada"]
    commit = await world.synced(ada, VICTIM, "dogs", tree("dogs"))
    # Whoever may write the lake swaps an entry: the commit would now materialize other bytes.
    forged = [{"path": "a.txt", "size": 9, "sha256": hashlib.sha256(b"backdoor!").hexdigest()},
              {"path": "sub/b.txt", "size": 15, "sha256": hashlib.sha256(b"dogs: genuine b").hexdigest()}]
    lake = world.stack.home / "lake"
    key = commit["manifest_url"].removeprefix(lake.as_uri() + "/")
    async with LocalObjectStore(lake) as store:
        await store.put(key, gzip.compress(b"".join(json.dumps(e).encode() + b"\n" for e in forged)))

    listed = await world.call(ada, "GET", "/api/v1/datasets/vision/dogs/refs/latest/entries")
    assert listed.status == 409 and listed.problem_type == "manifest-mismatch", listed.body
    assert f"the manifest of commit {commit['id']} in the lake does not match its id" in listed.body["detail"]
    status = await world.settled_copy(ada, await world.cache(ada, VICTIM, "dogs"))
    assert status["state"] == "failed"
    assert f"manifest of commit {commit['id']}" in status["volumes"][0]["error"]
    assert not (world.stack.volume / VICTIM / "dogs" / commit["id"]).exists()


_PLANT = '''
import json, os, sys
volume, commit, with_marker, project, name = sys.argv[1], sys.argv[2], sys.argv[3] == "marker", *sys.argv[4:]
dataset = os.path.join(volume, project, name)
os.makedirs(dataset)
view = os.path.join(dataset, commit)
os.makedirs(os.path.join(view, "sub"))
for entry in ("a.txt", "sub/b.txt"):
    with open(os.path.join(view, entry), "wb") as handle:
        handle.write(b"planted by another user\\n")
if with_marker:  # what a ready marker holds: the commit, the view's file count, size and inode
    marker = {"commit_id": commit, "files": 2, "size_bytes": 48, "inode": os.stat(view).st_ino}
    with open(os.path.join(dataset, commit + ".ready"), "w") as handle:
        json.dump(marker, handle)
'''


_SWAP = '''
import os, sys
view = sys.argv[1]
try:
    os.rename(view, view + ".old")
    os.makedirs(os.path.join(view, "sub"))
    for entry in ("a.txt", "sub/b.txt"):
        with open(os.path.join(view, entry), "wb") as handle:
            handle.write(b"swapped by another user\\n")
    print("swapped")
except OSError:
    print("refused")
'''


async def planted_then_cached(world: Scene, project: str, *, with_marker: bool) -> dict:
    """Another OS user plants a view (and maybe a ready marker) of ``project/owls``'s commit on a
    volume every user may write, before anyone asked for it; then its editor asks: the status."""
    ada, name = world["ada"], "owls"
    # A project new to the volume (no directory of it yet), whose commit id is no secret.
    await world.ok(world["admin"], "PUT", f"/api/v1/projects/{project}/members/ada", json_body={"role": "editor"})
    commit = await world.synced(ada, project, name, tree(name))
    volume = world.stack.volume
    mode = volume.stat().st_mode
    volume.chmod(0o1777)  # a scratch volume every user may write, as some clusters have
    try:
        await run_as_nobody(_PLANT, str(volume), commit["id"], "marker" if with_marker else "none", project, name)
    finally:
        volume.chmod(mode)
    return await world.settled_copy(ada, await world.cache(ada, project, name))


@pytest.mark.parametrize("with_marker", [False, True], ids=["directory", "directory-and-marker"])
async def test_a_view_planted_by_another_user_before_the_fill_is_never_published(world, with_marker):
    status = await planted_then_cached(world, f"atlas-{int(with_marker)}", with_marker=with_marker)
    if status["state"] == "ready":
        published = Path(status["volumes"][0]["path"])
        assert files_in(published) == tree("owls"), "the planted directory was published as the commit's view"
    else:
        assert status["state"] == "failed" and status["volumes"][0]["path"] is None, status


async def test_a_published_view_is_out_of_reach_of_the_user_who_made_the_directories_above_it(world):
    status = await planted_then_cached(world, "atlas-2", with_marker=False)
    if status["state"] != "ready":  # refusing to publish under another user's directories defeats it too
        assert status["state"] == "failed" and status["volumes"][0]["path"] is None, status
        return
    published = Path(status["volumes"][0]["path"])
    swapped = await run_as_nobody(_SWAP, str(published))
    assert swapped.strip() == "refused" and files_in(published) == tree("owls"), (
        "another user replaced a published view: " + swapped)


@pytest.mark.parametrize("marker", ["symlink", "garbage", "another-commit"])
async def test_a_bad_ready_marker_fails_the_fill_clearly_and_is_logged(world, secret, caplog, marker):
    ada, name = world["ada"], f"eels-{marker}"
    commit = await world.synced(ada, VICTIM, name, tree(name))
    dataset = world.stack.volume / VICTIM / name
    dataset.mkdir(parents=True)
    path = dataset / f"{commit['id']}.ready"
    if marker == "symlink":
        path.symlink_to(secret)
    elif marker == "garbage":
        path.write_bytes(b"\x00not json")
    else:
        path.write_text(json.dumps({"commit_id": "f" * 64, "files": 2, "size_bytes": 34, "inode": 1}))

    with caplog.at_level(logging.WARNING):
        status = await world.settled_copy(ada, await world.cache(ada, VICTIM, name))
    assert status["state"] == "failed", status  # not "filling" forever
    error = status["volumes"][0]["error"]
    assert f"the ready marker {path}" in error and "Remove the marker" in error, error
    assert leaks(error, SECRET) == []
    assert any(str(path) in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# --- a local user racing the CLI ---------------------------------------------------------------

async def synced_with_race(world: Scene, name: str, files: dict[str, bytes], act, *extra: str,
                           slow_disk: bool = False) -> tuple[int, str, str]:
    root = write_tree(world.root / f"tree-{name}", files)
    await world.ok(world["ada"], "POST", "/api/v1/datasets", json_body={"project": VICTIM, "name": name})
    cli = await RacedCli.start(world, world["ada"], "data", "sync", f"{VICTIM}/{name}", str(root), "-m", "race",
                               *extra, pause_after="scan", slow_disk=slow_disk)
    await cli.wait_for("SCANNED")
    act(root)
    cli.resume()
    return await cli.finish()


async def test_a_file_swapped_for_a_link_after_the_scan_never_publishes_the_link_target(world, secret):
    def swap(root: Path) -> None:
        (root / "a.txt").unlink()
        (root / "a.txt").symlink_to(secret)

    code, stdout, stderr = await synced_with_race(world, "race-link", tree("race-link"), swap, "--json")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert {"path": "a.txt", "reason": "symbolic link (not followed)"} in result["skipped"]
    entries = await world.ok(world["ada"], "GET", "/api/v1/datasets/vision/race-link/refs/latest/entries")
    assert [(e["path"], e["size"]) for e in entries["items"]] == [("sub/b.txt", len(tree("race-link")["sub/b.txt"]))]
    assert leaks(json.dumps(entries) + stdout + stderr, SECRET) == []


async def test_a_file_rewritten_after_the_scan_is_named_and_nothing_is_committed(world):
    def rewrite(root: Path) -> None:
        (root / "a.txt").write_bytes(b"a much longer content than the scan listed\n")

    code, stdout, stderr = await synced_with_race(world, "race-rewrite", tree("race-rewrite"), rewrite)
    assert code == 1 and "Traceback" not in stderr, stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: 'a.txt' changed during the sync") and "retry later" not in line, line
    assert await head_of(world, "race-rewrite") is None  # no commit that could never be cached


async def test_a_file_swapped_for_a_fifo_is_skipped_and_ctrl_c_stops_the_sync(world):
    def fifo(root: Path) -> None:
        (root / "a.txt").unlink()
        os.mkfifo(root / "a.txt")  # nobody will ever write to it

    started = time.monotonic()
    code, stdout, stderr = await synced_with_race(world, "race-fifo", tree("race-fifo"), fifo, "--json")
    assert code == 0 and time.monotonic() - started < 30, stderr
    assert {"path": "a.txt", "reason": "not a regular file any more (socket, FIFO or device)"} in json.loads(
        stdout)["skipped"]

    # Ctrl-C while a big file is hashed on a slow disk, with a FIFO swapped in next to it.
    root = write_tree(world.root / "tree-race-interrupt", tree("race-interrupt"))
    with open(root / "big.bin", "wb") as handle:
        handle.truncate(1 << 28)  # sparse: 32 reads, half a second each
    await world.ok(world["ada"], "POST", "/api/v1/datasets", json_body={"project": VICTIM, "name": "race-interrupt"})
    cli = await RacedCli.start(world, world["ada"], "data", "sync", f"{VICTIM}/race-interrupt", str(root), "-m", "x",
                               pause_after="scan", slow_disk=True)
    await cli.wait_for("SCANNED")
    fifo(root)
    cli.resume()
    await cli.wait_for("HASHING")
    interrupted = time.monotonic()
    cli.process.send_signal(signal.SIGINT)
    code, _, stderr = await cli.finish(timeout=20)
    assert code == 130 and time.monotonic() - interrupted < 10, stderr
    assert "Traceback" not in stderr and "error: interrupted: nothing was committed" in stderr, stderr
    assert await head_of(world, "race-interrupt") is None
