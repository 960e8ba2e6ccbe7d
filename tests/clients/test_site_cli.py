"""``lakecache site …`` through the gateway to the site's cacher and the evictor of the stack:
size/duration parsing, adding and listing volumes, copies, why and ttl, errors."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.cli.units import parse_duration, parse_size
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_SITE as SITE
from tests.support.stack import STACK_VOLUME, create_user

runner = CliRunner()


def site(*args: str):
    return runner.invoke(app, ["site", *args])


def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


def site_json(*args: str):
    result = site(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cached(tmp_path, files: dict[str, bytes], name: str = "team/ds") -> str:
    """A commit of ``files`` in ``name``, cached at the site (through the gateway); its id."""
    for args in (["data", "create", name], ["data", "sync", name, str(write_tree(tmp_path / name, files)), "-m", "1"],
                 ["cache", "request", name, "--site", SITE]):
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["commit_id"]


@pytest.mark.parametrize(("text", "expected"), [
    ("4096", 4096), ("500G", 500 << 30), ("1.5T", 3 << 39), ("100MiB", 100 << 20), ("2GB", 2 * 10**9),
    ("64k", 64 << 10), ("1 GiB", 1 << 30), ("10b", 10),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "12X", "-5G", "0", "0.5", "1.5.2G", "5 G B"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("3600", 3600), ("90m", 5400), ("12h", 43200), ("1d", 86400), ("1.5h", 5400), ("2w", 1209600), ("45s", 45),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "1y", "0s", "0.5s", "-1h", "1h30m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_add_and_list_volumes(stack, tmp_path):
    nfs2, nfs3 = tmp_path / "nfs2", tmp_path / "nfs3"
    nfs2.mkdir(), nfs3.mkdir()
    added = site_json("add", SITE, "--volume", "nfs2", "--path", str(nfs2), "--capacity", "1.5G", "--ttl", "12h")
    assert (added["site"], added["name"], added["path"]) == (SITE, "nfs2", str(nfs2))
    assert added["capacity_bytes"] == 3 << 29 and added["capacity_configured"] is True
    assert added["ttl_seconds"] == 43200 and added["copies"] == {"ready": 0, "bytes": 0}

    text = site("add", SITE, "--volume", "nfs3", "--path", str(nfs3))
    assert text.exit_code == 0, text.output
    assert "added volume nfs3" in flat(text.stdout) and "ttl default" in flat(text.stdout)

    listed = site_json("volumes", SITE)
    assert [(v["name"], v["ttl_seconds"], v["capacity_configured"]) for v in listed] == [
        ("nfs1", None, False), ("nfs2", 43200, True), ("nfs3", None, False)]
    assert site_json("volumes", SITE, "nfs3")["path"] == str(nfs3)

    table = site("volumes", SITE)
    assert table.exit_code == 0
    assert all(part in flat(table.stdout) for part in ("nfs2", "nfs3", "1.5 GiB", "12h", "default"))

    assert site_json("copies", SITE) == []
    assert site_json("copies", SITE, "--state", "ready") == []
    empty = site("copies", SITE, "--state", "failed")
    assert empty.exit_code == 0 and "no copies at site dgx in state failed" in flat(empty.stdout)


def test_errors_exit_codes_and_messages(stack, tmp_path):
    nfs2 = tmp_path / "nfs2"
    nfs2.mkdir()
    bad_size = site("add", SITE, "--volume", "nfs2", "--path", str(nfs2), "--capacity", "12X")
    assert bad_size.exit_code == 2 and "invalid size '12X'" in flat(bad_size.stderr) and "500G" in flat(bad_size.stderr)
    bad_ttl = site("add", SITE, "--volume", "nfs2", "--path", str(nfs2), "--ttl", "soon", "--json")
    assert bad_ttl.exit_code == 2 and "invalid duration" in json.loads(bad_ttl.stderr)["error"]

    missing = site("add", SITE, "--volume", "nfs2", "--path", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "nope" in flat(missing.stderr)

    taken = site("add", SITE, "--volume", STACK_VOLUME, "--path", str(nfs2), "--json")
    assert taken.exit_code == 1
    problem = json.loads(taken.stderr)
    assert problem["status"] == 409 and f"already has a volume '{STACK_VOLUME}'" in problem["error"]

    unknown = site("volumes", SITE, "nfs9")
    assert unknown.exit_code == 1 and "has no volume 'nfs9'" in flat(unknown.stderr)
    wrong_site = site("volumes", "elsewhere")
    assert wrong_site.exit_code == 1 and "elsewhere" in flat(wrong_site.stderr)
    bad_state = site("copies", SITE, "--state", "gone")
    assert bad_state.exit_code == 2 and "--state must be one of" in flat(bad_state.stderr)
    no_copy = site("copies", SITE, "ab" * 32, "--project", "team")
    assert no_copy.exit_code == 1 and "has no copy of commit" in flat(no_copy.stderr)


def test_only_installation_administrators_add_volumes_or_set_ttls(stack, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKECACHE_TOKEN", create_user(stack.base_url, stack.token, "ed", {"team": "admin"}))
    (tmp_path / "mine").mkdir()
    added = site("add", SITE, "--volume", "mine", "--path", str(tmp_path / "mine"), "--json")
    assert added.exit_code == 1 and json.loads(added.stderr)["status"] == 403
    ttl = site("ttl", SITE, "1h", "--commit", "ab" * 32, "--json")
    assert ttl.exit_code == 1 and json.loads(ttl.stderr)["status"] == 403
    assert [v["name"] for v in site_json("volumes", SITE)] == [STACK_VOLUME]  # reading is fine


def test_unreachable_gateway_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LAKECACHE_API_URL", "http://127.0.0.1:9/")
    for args in (["volumes", SITE], ["why", SITE, "ab" * 32], ["ttl", SITE, "1d", "--commit", "ab" * 32]):
        result = site(*args)
        assert result.exit_code == 1
        assert "cannot reach the gateway at http://127.0.0.1:9" in flat(result.stderr)
        assert "LAKECACHE_API_URL" in flat(result.stderr)


def test_copies_lists_a_filled_copy_of_the_project(stack, tmp_path):
    commit_id = cached(tmp_path, {"a.txt": b"alpha", "sub/b.txt": b"beta"})

    [copy] = site_json("copies", SITE, "--state", "ready", "--project", "team")
    assert (copy["commit_id"], copy["volume"], copy["files"], copy["size_bytes"]) == (commit_id, STACK_VOLUME, 2, 9)
    assert site_json("copies", SITE, "--state", "ready") == []  # another project's (LAKECACHE_PROJECT: 'default')
    assert site_json("copies", SITE, "--state", "failed", "--project", "team") == []
    table = site("copies", SITE, "-p", "team")
    assert table.exit_code == 0
    assert all(part in flat(table.stdout) for part in (commit_id[:12], "team/ds", STACK_VOLUME, "ready"))
    one = site_json("copies", SITE, commit_id, "-p", "team")
    assert (one["project"], one["state"], [v["volume"] for v in one["volumes"]]) == ("team", "ready", [STACK_VOLUME])
    assert site_json("volumes", SITE, STACK_VOLUME)["copies"] == {"ready": 1, "bytes": 9}


def test_why_and_ttl_explain_and_override_through_the_evictor(stack, tmp_path):
    commit = cached(tmp_path, {"a.txt": b"alpha", "b.txt": b"beta"})

    def explained() -> dict:
        result = site("why", SITE, commit, "--project", "team", "--json")
        return json.loads(result.stdout) if result.exit_code == 0 else {}

    deadline = time.monotonic() + 30
    while explained().get("state") != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)
    found = explained()
    assert found["state"] == "ready" and found["volume"] == STACK_VOLUME
    assert (found["ttl_seconds"], found["ttl_source"]) == (86400, "default")
    shown = site("why", SITE, commit, "-p", "team")
    assert shown.exit_code == 0 and "from default" in flat(shown.output) and "leases none" in flat(shown.output)
    by_ref = site("why", SITE, "team/ds@latest", "--json")  # a reference names its project and commit
    assert by_ref.exit_code == 0 and json.loads(by_ref.stdout)["commit_id"] == commit

    assert site_json("ttl", SITE, "2d", "--commit", commit)["ttl_seconds"] == 2 * 86400
    deadline = time.monotonic() + 30
    while explained().get("ttl_source") != "commit" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (explained()["ttl_seconds"], explained()["ttl_source"]) == (2 * 86400, "commit")

    both = site("ttl", SITE, "2d", "--commit", commit, "--dataset-id", "id-ds")
    assert both.exit_code == 2 and "exactly one" in flat(both.output)
    neither = site("ttl", SITE, "--commit", commit)
    assert neither.exit_code == 2 and "--clear" in flat(neither.output)
    unknown = site("why", SITE, "cd" * 32, "-p", "team")
    assert unknown.exit_code == 1
    other_project = site("why", SITE, commit, "-p", "elsewhere")  # another project has no copy of it
    assert other_project.exit_code == 1


def test_remove_a_volume_asks_first_and_refuses_one_of_the_settings(stack, tmp_path):
    nfs2 = tmp_path / "nfs2"
    nfs2.mkdir()
    site_json("add", SITE, "--volume", "nfs2", "--path", str(nfs2))

    declined = runner.invoke(app, ["site", "remove", SITE, "nfs2"], input="n\n")
    assert declined.exit_code == 1 and "not removed" in flat(declined.stderr)
    assert [v["name"] for v in site_json("volumes", SITE)] == [STACK_VOLUME, "nfs2"]

    assert site_json("remove", SITE, "nfs2", "--yes") == {"site": SITE, "volume": "nfs2", "removed": True}
    assert [v["name"] for v in site_json("volumes", SITE)] == [STACK_VOLUME]
    again = site("remove", SITE, "nfs2", "--yes")
    assert again.exit_code == 1 and "has no volume 'nfs2'" in flat(again.stderr)

    declared = site("remove", SITE, STACK_VOLUME, "--yes", "--json")
    assert declared.exit_code == 1
    problem = json.loads(declared.stderr)
    assert problem["status"] == 409 and "cacher.volumes" in problem["error"]
