"""``lakecache data …`` against the real catalog: text and --json output, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from tests.clients.helpers import write_tree

runner = CliRunner()


def data(*args: str):
    return runner.invoke(app, ["data", *args])


def data_json(*args: str):
    result = data(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_sync_log_ls_diff_tag_round_trip(client_settings, tmp_path):
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


def test_list_show_and_delete(client_settings):
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


def test_project_comes_from_option_or_environment(client_settings, monkeypatch):
    assert data_json("create", "ds", "--project", "p1")["project"] == "p1"
    monkeypatch.setenv("LAKECACHE_PROJECT", "p2")
    assert data_json("create", "ds")["project"] == "p2"


def test_refusals_exit_1_with_the_reason_on_stderr(client_settings, tmp_path):
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
def test_malformed_names_are_usage_errors(client_settings, args):
    result = data(*args)
    assert result.exit_code == 2, result.output


def test_unreachable_catalog_is_reported_with_the_setting_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKECACHE_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path))
    result = data("list")
    assert result.exit_code == 1 and "LAKECACHE_API_URL" in result.stderr


def test_every_data_command_has_help():
    for command in ("create", "list", "show", "sync", "import", "log", "ls", "diff", "tag", "delete"):
        result = data(command, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout, command


def test_import_of_a_local_lake_prefix(client_settings, catalog, tmp_path):
    import asyncio

    from lakecache.core.adapters.registry import object_store_from_url

    lake_root = catalog.settings.resolved_lake_url()

    async def seed() -> None:
        async with object_store_from_url(lake_root) as store:
            for i in range(3):
                await store.put(f"raw/shots/{i}.png", f"png {i}".encode())

    asyncio.run(seed())
    data_json("create", "shots")
    result = data_json("import", "shots", f"{lake_root}/raw", "-m", "import raw")
    assert (result["files"], result["hashed"], result["from_checksum"]) == (3, 0, 3)
    entries = data_json("ls", "shots")
    assert [e["path"] for e in entries] == ["shots/0.png", "shots/1.png", "shots/2.png"]
    assert entries[0]["object"] == f"{lake_root}/raw/shots/0.png"
