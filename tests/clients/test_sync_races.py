"""Attacks on a running sync: files swapped or rewritten between the scan, the hash and the
upload, and Ctrl-C while files are hashed. Before files were opened once (read by path after
the scan), a symlink swapped in published its target, a rewrite committed a size that did
not match the content, and a FIFO hung the sync past Ctrl-C."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.sdk import staging, uploads
from lakecache.sdk.files import FileChanged
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.sync import sync_directory
from tests.clients.conftest import PROJECT
from tests.clients.helpers import content_keys, sha256, write_tree

DS = DatasetRef(PROJECT, "races")
SECRET = b"root-only secret that must never be published"


def after_scan(monkeypatch, action) -> None:
    """Run ``action`` right after the sync listed the directory, before any file is read."""
    real = staging.scan_tree

    def scan_then_act(root, **options):
        tree = real(root, **options)
        action()
        return tree

    monkeypatch.setattr(staging, "scan_tree", scan_then_act)


async def head_of(catalog: GatewayClient) -> str | None:
    return (await catalog.get_dataset(DS.project, DS.name))["head"]


async def test_a_file_swapped_for_a_symlink_after_the_scan_is_skipped_not_followed(client_settings, tmp_path,
                                                                                    monkeypatch):
    secret = write_tree(tmp_path / "outside", {"secret": SECRET}) / "secret"
    root = write_tree(tmp_path / "data", {"a.txt": b"innocent", "b.txt": b"other"})

    def swap() -> None:
        (root / "a.txt").unlink()
        (root / "a.txt").symlink_to(secret)

    after_scan(monkeypatch, swap)
    async with GatewayClient(client_settings) as catalog:
        dataset = await catalog.create_dataset(DS.project, DS.name)
        result = await sync_directory(catalog, DS, root, message="swapped")
        entries = {e["path"]: e["sha256"] async for e in catalog.entries(DS.project, DS.name)}
    assert entries == {"b.txt": sha256(b"other")}
    assert ("a.txt", "symbolic link (not followed)") in result.skipped
    assert sha256(SECRET) not in await content_keys(dataset["lake_url"])


async def test_a_directory_swapped_for_a_symlink_after_the_scan_is_not_followed(client_settings, tmp_path,
                                                                                 monkeypatch):
    outside = write_tree(tmp_path / "outside", {"f.txt": SECRET})
    root = write_tree(tmp_path / "data", {"sub/f.txt": b"mine", "top.txt": b"top"})

    def swap() -> None:
        (root / "sub").rename(tmp_path / "moved-away")
        (root / "sub").symlink_to(outside, target_is_directory=True)

    after_scan(monkeypatch, swap)
    async with GatewayClient(client_settings) as catalog:
        dataset = await catalog.create_dataset(DS.project, DS.name)
        result = await sync_directory(catalog, DS, root, message="swapped dir")
        paths = [e["path"] async for e in catalog.entries(DS.project, DS.name)]
    assert paths == ["top.txt"] and [p for p, _ in result.skipped] == ["sub/f.txt"]
    assert sha256(SECRET) not in await content_keys(dataset["lake_url"])


async def test_a_file_rewritten_after_the_scan_refuses_the_sync_naming_it(client_settings, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {"a.txt": b"short", "b.txt": b"other"})
    after_scan(monkeypatch, lambda: (root / "a.txt").write_bytes(b"a much longer content than was listed"))
    async with GatewayClient(client_settings) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        with pytest.raises(FileChanged) as refused:
            await sync_directory(catalog, DS, root, message="rewritten")
        assert await head_of(catalog) is None  # nothing committed: no entry with a wrong size
    assert refused.value.path == "a.txt"
    assert "'a.txt' changed during the sync" in str(refused.value) and "Run the sync again" in str(refused.value)


async def test_a_file_rewritten_between_hash_and_upload_refuses_the_sync(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a.bin": b"x" * 5000})
    rewritten = []

    def rewrite_when_uploads_start(progress) -> None:
        if progress.phase == "upload" and not rewritten:
            rewritten.append(True)
            (root / "a.bin").write_bytes(b"y" * 5000)  # same size: only the bytes tell

    async with GatewayClient(client_settings) as catalog:
        dataset = await catalog.create_dataset(DS.project, DS.name)
        with pytest.raises(FileChanged, match="'a.bin'"):
            await sync_directory(catalog, DS, root, message="rewritten", on_progress=rewrite_when_uploads_start)
        assert await head_of(catalog) is None
    assert rewritten and await content_keys(dataset["lake_url"]) == set()


async def test_bytes_changed_during_an_upload_never_reach_the_store(client_settings, tmp_path, monkeypatch):
    original = os.urandom(3 * uploads.CHUNK_SIZE + 17)
    root = write_tree(tmp_path / "data", {"big.bin": original})
    path = root / "big.bin"
    real_next, reads = uploads._Body._next, []

    def read_then_tamper(body):
        chunk = real_next(body)
        reads.append(len(chunk))
        if len(reads) == 1:  # after the first chunk went out: other bytes, same size, same mtime
            info = path.stat()
            with open(path, "r+b") as handle:
                handle.seek(len(original) - 10)
                handle.write(b"0123456789")
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        return chunk

    monkeypatch.setattr(uploads._Body, "_next", read_then_tamper)
    async with GatewayClient(client_settings) as catalog:
        dataset = await catalog.create_dataset(DS.project, DS.name)
        with pytest.raises(FileChanged, match="not what was hashed"):
            await sync_directory(catalog, DS, root, message="tampered")
        assert await head_of(catalog) is None
    assert len(reads) >= 4  # the whole file was read before the last chunk would have gone
    assert await content_keys(dataset["lake_url"]) == set()


def test_cli_names_a_file_changed_during_the_sync_in_one_line(stack, tmp_path, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(app, ["data", "create", f"{PROJECT}/races"]).exit_code == 0
    root = write_tree(tmp_path / "data", {"a.txt": b"short"})
    after_scan(monkeypatch, lambda: (root / "a.txt").write_bytes(b"longer than it was"))

    text = runner.invoke(app, ["data", "sync", f"{PROJECT}/races", str(root), "-m", "x"])
    assert text.exit_code == 1, text.output
    [error] = [line for line in text.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: 'a.txt' changed during the sync") and "Traceback" not in text.stderr

    as_json = runner.invoke(app, ["data", "sync", f"{PROJECT}/races", str(root), "-m", "x", "--json"])
    assert as_json.exit_code == 1 and as_json.stdout == ""
    assert "'a.txt' changed during the sync" in json.loads(as_json.stderr)["error"]


# --- in a real process, with a real signal -----------------------------------------------------

SCRIPT = '''
import hashlib, os, sys, time
from lakecache.sdk import staging

real_scan = staging.scan_tree

def scan_then_swap(root, **options):
    tree = real_scan(root, **options)
    victim = os.path.join(root, "swap.bin")
    os.unlink(victim)
    os.mkfifo(victim)  # nobody will ever write to it
    print("SWAPPED", flush=True)
    return tree

staging.scan_tree = scan_then_swap
if os.environ.get("SLOW_DISK"):
    real_sha256 = hashlib.sha256

    class SlowSha256:  # a slow disk: every read takes half a second to hash
        def __init__(self, *args):
            self._digest = real_sha256(*args)

        def update(self, data):
            print("HASHING", flush=True)
            time.sleep(0.5)
            self._digest.update(data)

        def hexdigest(self):
            return self._digest.hexdigest()

    hashlib.sha256 = SlowSha256

from lakecache.cli.main import app

sys.argv = ["lakecache", *sys.argv[1:]]
app()
'''


def start_sync(tmp_path: Path, root: Path, *extra: str, slow: bool = False) -> subprocess.Popen:
    script = tmp_path / "sync_with_swap.py"
    script.write_text(SCRIPT)
    env = {**os.environ, **({"SLOW_DISK": "1"} if slow else {})}
    return subprocess.Popen([sys.executable, str(script), "data", "sync", f"{PROJECT}/races", str(root), "-m", "swap",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)


def wait_for_line(process: subprocess.Popen, expected: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            if line.strip() == expected:
                return
            if not line and process.poll() is not None:
                break
    stderr = process.stderr.read() if process.poll() is not None else "(still running)"
    raise AssertionError(f"the sync never printed {expected}; stderr: {stderr}")


def tree_with_fifo_victim(tmp_path: Path, big: int) -> Path:
    root = write_tree(tmp_path / "data", {"swap.bin": b"a regular file, for now", "small.txt": b"small"})
    with open(root / "big.bin", "wb") as handle:
        handle.truncate(big)  # sparse: reading it is quick, hashing it is what takes time
    return root


def test_a_file_swapped_for_a_fifo_after_the_scan_is_skipped_without_waiting(stack, tmp_path):
    assert CliRunner().invoke(app, ["data", "create", f"{PROJECT}/races"]).exit_code == 0
    root = tree_with_fifo_victim(tmp_path, big=1 << 20)
    process = start_sync(tmp_path, root, "--json")
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    result = json.loads(stdout.split("SWAPPED\n", 1)[1])
    assert result["files"] == 2 and result["created"]
    assert {"path": "swap.bin", "reason": "not a regular file any more (socket, FIFO or device)"} in result["skipped"]


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_ctrl_c_while_hashing_stops_the_sync_promptly_even_with_a_fifo_swapped_in(stack, tmp_path, as_json):
    assert CliRunner().invoke(app, ["data", "create", f"{PROJECT}/races"]).exit_code == 0
    root = tree_with_fifo_victim(tmp_path, big=1 << 30)  # 128 reads of 8 MiB: about a minute on this slow disk
    process = start_sync(tmp_path, root, *(["--json"] if as_json else []), slow=True)
    try:
        wait_for_line(process, "SWAPPED")
        wait_for_line(process, "HASHING")
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        took = time.monotonic() - interrupted
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert took < 10, f"Ctrl-C took {took:.1f} s to stop the sync"
    assert "Traceback" not in stderr
    if as_json:
        assert json.loads(stderr)["error"].startswith("interrupted: nothing was committed")
    else:
        [error] = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert error.startswith("error: interrupted: nothing was committed"), stderr
