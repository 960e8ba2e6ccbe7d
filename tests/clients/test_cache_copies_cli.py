"""``lakecache cache list|pin|unpin`` against the real stack behind the gateway: a ready copy is
listed with its site, volume, size and usage; a pin shows in the list and is undone by unpin; a
viewer is refused with a message that says why."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.clients.helpers import cli, cli_json, write_tree
from tests.support.stack import STACK_SITE, STACK_VOLUME, create_user

FILES = {"a.txt": b"alpha", "sub/b.txt": b"beta"}




def cached(tmp_path: Path) -> str:
    cli_json("data", "create", "team/ds")
    synced = cli_json("data", "sync", "team/ds", str(write_tree(tmp_path / "data", FILES)), "-m", "one")
    assert cli_json("cache", "request", "team/ds", "--site", STACK_SITE)["state"] == "ready"
    return synced["commit"]["id"]


def listed_until(condition, timeout: float = 30) -> list[dict]:
    """``cache list`` once ``condition(rows)`` holds: pins reach the list through events."""
    deadline = time.monotonic() + timeout
    while True:
        rows = cli_json("cache", "list", "--project", "team")
        if condition(rows):
            return rows
        assert time.monotonic() < deadline, f"timed out; last listing: {rows}"
        time.sleep(0.1)


def test_list_shows_a_ready_copy_and_pin_and_unpin_round_trip(stack, tmp_path):
    commit_id = cached(tmp_path)

    [row] = listed_until(lambda rows: len(rows) == 1 and rows[0]["last_used"] is not None)
    assert (row["project"], row["dataset"], row["commit_id"], row["site"], row["volume"], row["state"]) == (
        "team", "ds", commit_id, STACK_SITE, STACK_VOLUME, "ready")
    assert row["size_bytes"] == sum(len(b) for b in FILES.values())
    assert (row["pinned"], row["leases"]) == (False, [])
    assert Path(row["path"]).is_relative_to(stack.volume)
    assert cli_json("cache", "list", "--project", "team", "--site", "elsewhere") == []

    pinned = cli("cache", "pin", "team/ds", "--site", STACK_SITE)
    assert pinned.exit_code == 0, pinned.output
    assert "pinned" in pinned.output and commit_id[:12] in pinned.output
    listed_until(lambda rows: rows[0]["pinned"])
    text = cli("cache", "list", "-p", "team")
    assert text.exit_code == 0, text.output
    assert "team/ds" in text.output and "yes" in text.output and STACK_VOLUME in text.output

    unpinned = cli_json("cache", "unpin", f"team/ds@{commit_id}", "--site", STACK_SITE, "--volume", STACK_VOLUME)
    assert unpinned["pinned"] is False
    listed_until(lambda rows: not rows[0]["pinned"])


def test_a_viewer_lists_copies_but_is_refused_a_pin(stack, tmp_path, monkeypatch):
    cached(tmp_path)
    monkeypatch.setenv("LAKECACHE_TOKEN", create_user(stack.base_url, stack.token, "vic", {"team": "viewer"}))

    assert [r["dataset"] for r in cli_json("cache", "list", "--project", "team")] == ["ds"]
    refused = cli("cache", "pin", "team/ds", "--site", STACK_SITE)
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert text.startswith("error: pin project team's copy of") and "caches:pin" in text
    assert "Traceback" not in refused.output


def test_pin_of_a_copy_never_requested_says_so(stack, tmp_path):
    cli_json("data", "create", "team/ds")
    cli_json("data", "sync", "team/ds", str(write_tree(tmp_path / "data", FILES)), "-m", "one")
    refused = cli("cache", "pin", "team/ds", "--site", STACK_SITE, "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stderr)["status"] == 404


def test_list_without_copies_says_how_to_make_one(stack):
    cli_json("data", "create", "team/ds")
    empty = cli("cache", "list", "--project", "team")
    assert empty.exit_code == 0 and "lakecache cache request" in empty.output
