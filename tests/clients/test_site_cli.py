"""``lakecache site …`` against a real cacher: size/duration parsing, add and list, errors."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.cli.main import app
from lakecache.cli.site import parse_duration, parse_size
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.contracts.cache import CacheReady, CacheRequested
from lakecache.core.layout import join_url, manifest_key
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from tests.cacher.helpers import make_commit
from tests.clients.conftest import ServiceThread

SITE = "dgx"
runner = CliRunner()


class CacherThread(ServiceThread):
    """The cacher service on its own loop in a thread (the CLI calls ``asyncio.run``)."""

    def __init__(self, settings) -> None:
        super().__init__(CACHER, settings)

    async def cache(self, files: dict[str, bytes]) -> str:
        """Write a commit of ``files`` into the cacher's lake and ask the cacher to cache it."""
        dataset_url = join_url(self.settings.resolved_lake_url(), "team", "ds")
        commit_id, manifest = await make_commit(dataset_url, files)
        async with object_store_from_url(dataset_url) as store:
            await store.put(manifest_key(commit_id), manifest)
        await self.running.resources.publisher.emit(CacheRequested(
            request_id=uuid.uuid4().hex, project="team", dataset_id="id-ds", dataset="ds", commit_id=commit_id,
            site=SITE, volume=None, requester="ada", manifest_url=join_url(dataset_url, manifest_key(commit_id))))
        return commit_id


@pytest.fixture
def cacher(tmp_path, monkeypatch) -> Iterator[CacherThread]:
    home = tmp_path / "home"
    home.mkdir()
    settings = CACHER.settings_type(home=home, bus_url=f"memory://site-cli-{uuid.uuid4().hex[:8]}",
                                    cacher={"port": 0, "site": SITE, "volumes": []})
    thread = CacherThread(settings).start()
    monkeypatch.setenv("LAKECACHE_CACHER_URL", thread.base_url)
    monkeypatch.delenv("LAKECACHE_PROJECT", raising=False)
    try:
        yield thread
    finally:
        thread.stop()


def site(*args: str):
    return runner.invoke(app, ["site", *args])


def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


def site_json(*args: str):
    result = site(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


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


def test_add_and_list_volumes(cacher, tmp_path):
    nfs1, nfs2 = tmp_path / "nfs1", tmp_path / "nfs2"
    nfs1.mkdir(), nfs2.mkdir()
    added = site_json("add", SITE, "--volume", "nfs1", "--path", str(nfs1), "--capacity", "1.5G", "--ttl", "12h")
    assert (added["site"], added["name"], added["path"]) == (SITE, "nfs1", str(nfs1))
    assert added["capacity_bytes"] == 3 << 29 and added["capacity_configured"] is True
    assert added["ttl_seconds"] == 43200 and added["copies"] == {"ready": 0, "bytes": 0}

    text = site("add", SITE, "--volume", "nfs2", "--path", str(nfs2))
    assert text.exit_code == 0, text.output
    assert "added volume nfs2" in flat(text.stdout) and "ttl default" in flat(text.stdout)

    listed = site_json("volumes", SITE)
    assert [(v["name"], v["ttl_seconds"], v["capacity_configured"]) for v in listed] == [
        ("nfs1", 43200, True), ("nfs2", None, False)]
    assert site_json("volumes", SITE, "nfs2")["path"] == str(nfs2)

    table = site("volumes", SITE)
    assert table.exit_code == 0
    assert all(part in flat(table.stdout) for part in ("nfs1", "nfs2", "1.5 GiB", "12h", "default"))

    assert site_json("copies", SITE) == []
    assert site_json("copies", SITE, "--state", "ready") == []
    empty = site("copies", SITE, "--state", "failed")
    assert empty.exit_code == 0 and "no copies at site dgx in state failed" in flat(empty.stdout)


def test_errors_exit_codes_and_messages(cacher, tmp_path):
    nfs1 = tmp_path / "nfs1"
    nfs1.mkdir()
    bad_size = site("add", SITE, "--volume", "nfs1", "--path", str(nfs1), "--capacity", "12X")
    assert bad_size.exit_code == 2 and "invalid size '12X'" in flat(bad_size.stderr) and "500G" in flat(bad_size.stderr)
    bad_ttl = site("add", SITE, "--volume", "nfs1", "--path", str(nfs1), "--ttl", "soon", "--json")
    assert bad_ttl.exit_code == 2 and "invalid duration" in json.loads(bad_ttl.stderr)["error"]

    missing = site("add", SITE, "--volume", "nfs1", "--path", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "not an existing directory" in flat(missing.stderr)

    assert site("add", SITE, "--volume", "nfs1", "--path", str(nfs1)).exit_code == 0
    taken = site("add", SITE, "--volume", "nfs1", "--path", str(nfs1), "--json")
    assert taken.exit_code == 1
    problem = json.loads(taken.stderr)
    assert problem["status"] == 409 and "already has a volume 'nfs1'" in problem["error"]

    unknown = site("volumes", SITE, "nfs9")
    assert unknown.exit_code == 1 and "has no volume 'nfs9'" in flat(unknown.stderr)
    wrong_site = site("volumes", "elsewhere")
    assert wrong_site.exit_code == 1 and "serves site 'dgx', not 'elsewhere'" in flat(wrong_site.stderr)
    bad_state = site("copies", SITE, "--state", "gone")
    assert bad_state.exit_code == 2 and "--state must be one of" in flat(bad_state.stderr)
    no_copy = site("copies", SITE, "ab" * 32)
    assert no_copy.exit_code == 1


def test_unreachable_cacher_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LAKECACHE_CACHER_URL", "http://127.0.0.1:9")
    result = site("volumes", SITE)
    assert result.exit_code == 1
    assert "cannot reach the cacher at http://127.0.0.1:9" in flat(result.stderr)
    assert "LAKECACHE_CACHER_URL" in flat(result.stderr)


def test_without_overrides_the_commands_go_to_the_gateway(monkeypatch):
    monkeypatch.delenv("LAKECACHE_CACHER_URL", raising=False)
    monkeypatch.delenv("LAKECACHE_EVICTOR_URL", raising=False)
    monkeypatch.setenv("LAKECACHE_API_URL", "http://127.0.0.1:9/")
    for args in (["volumes", SITE], ["why", SITE, "ab" * 32]):
        result = site(*args)
        assert result.exit_code == 1
        assert "cannot reach the gateway at http://127.0.0.1:9" in flat(result.stderr)
        assert "LAKECACHE_API_URL" in flat(result.stderr)


def test_copies_lists_a_filled_copy(cacher, tmp_path):
    nfs1 = tmp_path / "nfs1"
    nfs1.mkdir()
    assert site("add", SITE, "--volume", "nfs1", "--path", str(nfs1)).exit_code == 0
    commit_id = cacher.run(cacher.cache({"a.txt": b"alpha", "sub/b.txt": b"beta"}))

    deadline = time.monotonic() + 30
    while True:  # the request goes through the bus: the copy appears, then fills
        shown = site("copies", SITE, commit_id, "--json")
        copy = json.loads(shown.stdout) if shown.exit_code == 0 else {"state": "not yet requested"}
        if copy["state"] == "ready":
            break
        assert copy["state"] in ("not yet requested", "requested", "filling"), copy
        assert time.monotonic() < deadline, f"timed out waiting for the copy: {copy}"
        time.sleep(0.05)
    assert (copy["volume"], copy["files"], copy["size_bytes"]) == ("nfs1", 2, 9)

    ready = site_json("copies", SITE, "--state", "ready", "--project", "team")
    assert [c["commit_id"] for c in ready] == [commit_id]
    assert site_json("copies", SITE, "--state", "ready") == []  # another project's (LAKECACHE_PROJECT: 'default')
    assert site_json("copies", SITE, "--state", "failed", "--project", "team") == []
    table = site("copies", SITE, "-p", "team")
    assert table.exit_code == 0
    assert all(part in flat(table.stdout) for part in (commit_id[:12], "team/ds", "nfs1", "ready"))
    assert site_json("volumes", SITE, "nfs1")["copies"] == {"ready": 1, "bytes": 9}


@pytest.fixture
def evictor(tmp_path, monkeypatch) -> Iterator[ServiceThread]:
    home = tmp_path / "evictor-home"
    home.mkdir()
    settings = EVICTOR.settings_type(home=home, bus_url=f"memory://site-why-{uuid.uuid4().hex[:8]}",
                                     evictor={"port": 0, "tick_seconds": 3600})
    thread = ServiceThread(EVICTOR, settings).start()
    monkeypatch.setenv("LAKECACHE_EVICTOR_URL", thread.base_url)
    try:
        yield thread
    finally:
        thread.stop()


def test_why_and_ttl_explain_and_override_through_the_evictor(evictor):
    commit = "ab" * 32
    evictor.run(evictor.running.resources.publisher.emit(CacheReady(
        fill_id="f-1", project="team", dataset_id="id-ds", commit_id=commit, site=SITE, volume="nfs1",
        path=f"/v/team/ds/{commit}", files=2, size_bytes=1000, bytes_fetched=1000, bytes_deduplicated=0,
        duration_seconds=1.0, generation=0)))

    def explained() -> dict:
        result = site("why", SITE, commit, "--json")
        return json.loads(result.stdout) if result.exit_code == 0 else {}

    deadline = time.monotonic() + 10
    while explained().get("state") != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)
    found = explained()
    assert found["state"] == "ready" and found["volume"] == "nfs1"
    assert (found["ttl_seconds"], found["ttl_source"]) == (86400, "default")
    shown = site("why", SITE, commit)
    assert shown.exit_code == 0 and "from default" in flat(shown.output) and "leases none" in flat(shown.output)

    assert site_json("ttl", SITE, "2d", "--commit", commit)["ttl_seconds"] == 2 * 86400
    deadline = time.monotonic() + 10
    while explained().get("ttl_source") != "commit" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (explained()["ttl_seconds"], explained()["ttl_source"]) == (2 * 86400, "commit")

    both = site("ttl", SITE, "2d", "--commit", commit, "--dataset-id", "id-ds")
    assert both.exit_code == 2 and "exactly one" in flat(both.output)
    neither = site("ttl", SITE, "--commit", commit)
    assert neither.exit_code == 2 and "--clear" in flat(neither.output)
    unknown = site("why", SITE, "cd" * 32)
    assert unknown.exit_code == 1 and "knows no copy" in flat(unknown.output)
