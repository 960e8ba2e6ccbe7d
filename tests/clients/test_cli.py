"""``lakecache data …`` and ``lakecache import-location …`` against the stack behind the gateway:
text and --json output, exit codes."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.core.adapters.registry import object_store_from_url
from tests.clients.helpers import write_tree
from tests.support.stack import create_user

runner = CliRunner()


def data(*args: str):
    return runner.invoke(app, ["data", *args])


def data_json(*args: str):
    result = data(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def locations(*args: str):
    return runner.invoke(app, ["import-location", *args])


def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


def test_create_sync_log_ls_diff_tag_round_trip(stack, tmp_path):
    root = write_tree(tmp_path / "d", {"a.txt": b"a", "sub/b.txt": b"b"})
    created = data_json("create", "vision/cats", "--description", "cat pictures", "--tag", "images")
    assert (created["project"], created["name"], created["tags"]) == ("vision", "cats", ["images"])

    first = data_json("sync", "vision/cats", str(root), "-m", "first")
    assert first["created"] and first["files"] == 2 and first["uploaded"] == 2 and len(first["commit"]["id"]) == 64

    (root / "a.txt").write_bytes(b"changed")
    (root / "c.txt").write_bytes(b"c")
    second = data_json("sync", "vision/cats", str(root), "-m", "second")
    assert second["uploaded"] == 2

    unchanged = data("sync", "vision/cats", str(root), "-m", "again")
    assert unchanged.exit_code == 0 and "unchanged" in unchanged.stdout

    log = data_json("log", "vision/cats")
    assert [c["message"] for c in log] == ["second", "first"]

    tagged = data("tag", f"vision/cats@{first['commit']['id']}", "v1")
    assert tagged.exit_code == 0, tagged.output
    entries = data_json("ls", "vision/cats@v1")
    assert [e["path"] for e in entries] == ["a.txt", "sub/b.txt"]
    assert [e["path"] for e in data_json("ls", "vision/cats", "sub/")] == ["sub/b.txt"]

    diff = data_json("diff", "vision/cats@v1", "latest")
    assert diff["summary"] == {"added": 1, "removed": 0, "changed": 1}
    text = data("diff", "vision/cats@v1", "vision/cats@latest")
    assert text.exit_code == 0 and "+ c.txt" in text.stdout and "~ a.txt" in text.stdout

    moved = data("tag", "vision/cats@latest", "v1")
    assert moved.exit_code == 1, moved.output
    assert data("tag", "vision/cats@latest", "v1", "--force").exit_code == 0


def test_list_show_and_delete(stack):
    data_json("create", "one", "--tag", "x")
    data_json("create", "other/two")
    assert [d["name"] for d in data_json("list")] == ["one"]  # the project LAKECACHE_PROJECT (default 'default')
    assert [d["name"] for d in data_json("list", "--project", "other")] == ["two"]
    assert "no datasets in project none" in data("list", "--project", "none").stdout
    assert [d["name"] for d in data_json("list", "--tag", "x")] == ["one"]
    shown = data_json("show", "one")
    assert shown["project"] == "default" and shown["head"] is None

    assert data("delete", "one", "--yes").exit_code == 0
    missing = data("show", "one")
    assert missing.exit_code == 1 and "default/one" in missing.stderr


def test_project_comes_from_option_or_environment(stack, monkeypatch):
    assert data_json("create", "ds", "--project", "p1")["project"] == "p1"
    monkeypatch.setenv("LAKECACHE_PROJECT", "p2")
    assert data_json("create", "ds")["project"] == "p2"


def test_refusals_exit_1_with_the_reason_on_stderr(stack, tmp_path):
    data_json("create", "ds")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = data("sync", "ds", str(empty), "-m", "nothing")
    assert result.exit_code == 1 and "--allow-empty" in result.stderr

    bad = write_tree(tmp_path / "bad", {"ok": b"1", "tab\there": b"2"})
    result = data("sync", "ds", str(bad), "-m", "bad", "--json")
    assert result.exit_code == 1
    problem = json.loads(result.stderr)
    assert problem["errors"] == [{"path": "tab\there", "reason": "contains NUL or a control character"}]

    assert data("create", "ds").exit_code == 1  # exists already


@pytest.mark.parametrize("args", [["show", "a/b/c"], ["show", "bad name"], ["ls", "ds@"], ["diff", "a@1", "b@2"]])
def test_malformed_names_are_usage_errors(args):
    result = data(*args)
    assert result.exit_code == 2, result.output


def test_unreachable_gateway_is_reported_with_the_setting_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKECACHE_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path))
    result = data("list")
    assert result.exit_code == 1
    assert "cannot reach the gateway at http://127.0.0.1:9" in flat(result.stderr) and "LAKECACHE_API_URL" in \
        flat(result.stderr)


def test_every_data_and_import_location_command_has_help():
    for command in ("create", "list", "show", "sync", "import", "log", "ls", "diff", "tag", "delete"):
        result = data(command, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout, command
    for command in ("add", "list", "remove"):
        result = locations(command, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout, command


def seed_lake(stack, prefix: str, count: int) -> str:
    """Objects under ``prefix`` of the embedded lake, written as another tool would; the prefix's URL."""
    lake = f"file://{(stack.home / 'lake').resolve()}"

    async def seed() -> None:
        async with object_store_from_url(lake) as store:
            for i in range(count):
                await store.put(f"{prefix}/shots/{i}.png", f"png {i}".encode())

    asyncio.run(seed())
    return f"{lake}/{prefix}"


def test_an_administrator_registers_an_import_location_and_an_editor_imports_from_it(stack, monkeypatch):
    source = seed_lake(stack, "raw", 3)
    editor = create_user(stack.base_url, stack.token, "ed", {"vision": "editor"})

    added = runner.invoke(app, ["import-location", "add", "raw", source, "--project", "vision", "--json"])
    assert added.exit_code == 0, added.output
    assert (json.loads(added.stdout)["name"], json.loads(added.stdout)["url"]) == ("raw", source)
    text = locations("list", "-p", "vision")
    assert text.exit_code == 0 and "raw" in text.stdout and source in "".join(text.stdout.split())

    monkeypatch.setenv("LAKECACHE_TOKEN", editor)
    assert [(x["name"], x["url"]) for x in json.loads(locations("list", "-p", "vision", "--json").stdout)] == [
        ("raw", source)]
    refused = locations("add", "mine", source + "/shots", "-p", "vision", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stderr)["status"] == 403  # installation administrators only
    data_json("create", "vision/shots")
    result = data_json("import", "vision/shots", source, "-m", "import raw")
    assert (result["files"], result["hashed"] + result["from_checksum"], result["created"]) == (3, 3, True)
    entries = data_json("ls", "vision/shots")
    assert [e["path"] for e in entries] == ["shots/0.png", "shots/1.png", "shots/2.png"]
    assert entries[0]["object"] == f"{source}/shots/0.png"

    outside = seed_lake(stack, "elsewhere", 1)
    not_registered = data("import", "vision/shots", outside, "-m", "outside", "--json")
    assert not_registered.exit_code == 1 and "error" in json.loads(not_registered.stderr)

    monkeypatch.setenv("LAKECACHE_TOKEN", stack.token)
    removed = locations("remove", "raw", "-p", "vision")
    assert removed.exit_code == 0 and "removed import location raw of project vision" in flat(removed.stdout)
    assert json.loads(locations("list", "-p", "vision", "--json").stdout) == []
    empty = locations("list", "-p", "vision")
    assert "project vision has no import locations" in flat(empty.stdout)
