"""``lakecache cache …`` (and ``data``, ``site``) against the real stack behind the gateway: a
synced dataset is requested at a site and followed to ready over Server-Sent Events, shown,
listed and evicted; a missing or wrong token is a clear error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lakecache.cli.live import SseMessage, SseParser, follow_status
from lakecache.sdk.gateway import GatewayForbidden, GatewayUnavailable
from lakecache.sdk.settings import ClientSettings
from tests.clients.helpers import cli, cli_json, write_tree
from tests.support.stack import STACK_SITE, STACK_VOLUME

FILES = {"a.txt": b"alpha", "sub/b.txt": b"beta", "sub/deep/c.bin": bytes(range(256)) * 64}




def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


def squeezed(text: str) -> str:
    """Output without any whitespace: a long path folded over lines is whole again."""
    return "".join(text.split())


def synced(tmp_path: Path, name: str = "team/ds") -> str:
    """A dataset with one commit of ``FILES``, made with `lakecache data` through the gateway."""
    cli_json("data", "create", name)
    result = cli_json("data", "sync", name, str(write_tree(tmp_path / "data", FILES)), "-m", "first")
    return result["commit"]["id"]


def status_until(target: str, state: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = cli_json("cache", "status", target, "--site", STACK_SITE)
        if found["state"] == state:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {state}: {found}"
        time.sleep(0.1)


def test_request_follows_to_ready_then_status_listing_and_eviction(stack, tmp_path):
    commit_id = synced(tmp_path)

    ready = cli_json("cache", "request", "team/ds", "--site", STACK_SITE)
    assert (ready["state"], ready["commit_id"], ready["project"], ready["dataset"]) == (
        "ready", commit_id, "team", "ds")
    [volume] = ready["volumes"]
    assert (volume["volume"], volume["state"], volume["files_done"], volume["files_total"]) == (
        STACK_VOLUME, "ready", 3, 3)
    path = Path(volume["path"])
    assert path.is_dir() and path.is_relative_to(stack.volume)
    assert {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()} == FILES

    # Asking again joins the ready copy: the stream's first status is final. Text: the path.
    again = cli("cache", "request", f"team/ds@{commit_id}", "--site", STACK_SITE)
    assert again.exit_code == 0, again.output
    assert f"ready team/ds@{commit_id} ({commit_id[:12]}) at {STACK_SITE}/{STACK_VOLUME}: {path}" in flat(again.stdout)

    shown = cli_json("cache", "status", "team/ds@latest", "--site", STACK_SITE)
    assert (shown["state"], shown["volumes"][0]["path"], shown["requested_by"]) == ("ready", str(path), "user:admin")
    text = cli("cache", "status", "ds", "--project", "team", "--site", STACK_SITE)
    assert text.exit_code == 0, text.output
    assert all(part in flat(text.stdout) for part in (
        f"team/ds@latest ({commit_id[:12]}) at site {STACK_SITE}: ready", STACK_VOLUME, "3/3 files"))
    assert str(path) in squeezed(text.stdout)

    # `site copies` through the gateway: the project is required there, from --project or LAKECACHE_PROJECT.
    listed = cli_json("site", "copies", STACK_SITE, "--project", "team")
    assert [(c["commit_id"], c["volume"], c["state"]) for c in listed] == [(commit_id, STACK_VOLUME, "ready")]
    assert cli_json("site", "copies", STACK_SITE) == []  # project 'default'
    one = cli("site", "copies", STACK_SITE, commit_id, "--volume", STACK_VOLUME, "--project", "team")
    assert one.exit_code == 0, one.output
    assert all(part in flat(one.stdout) for part in (commit_id[:12], "team/ds", STACK_VOLUME, "ready", "3"))

    sent = cli_json("cache", "evict", "team/ds", "--site", STACK_SITE)
    assert (sent["site"], sent["volume"], sent["commit_id"]) == (STACK_SITE, STACK_VOLUME, commit_id)
    evicted = status_until("team/ds", "evicted")
    assert evicted["volumes"][0]["path"] is None and not path.exists()

    nothing = cli("cache", "evict", "team/ds", "--site", STACK_SITE)
    assert nothing.exit_code == 1 and "not ready on any volume" in flat(nothing.stderr)  # refused: nothing to evict

    # A new request after the eviction fills it again; text output shows where.
    refilled = cli("cache", "request", "team/ds", "--site", STACK_SITE)
    assert refilled.exit_code == 0, refilled.output
    assert f"at {STACK_SITE}/{STACK_VOLUME}: {path}" in flat(refilled.stdout) and path.is_dir()


def test_no_wait_answers_at_once_and_evict_text(stack, tmp_path):
    commit_id = synced(tmp_path)
    accepted = cli_json("cache", "request", "team/ds", "--site", STACK_SITE, "--no-wait")
    assert accepted["status_url"] == f"/api/v1/projects/team/sites/{STACK_SITE}/copies/{commit_id}"
    assert accepted["events_url"] == accepted["status_url"] + "/events"
    assert accepted["status"]["state"] in ("requested", "filling", "ready")
    status_until("team/ds", "ready")

    text = cli("cache", "evict", "team/ds", "--site", STACK_SITE, "--volume", STACK_VOLUME)
    assert text.exit_code == 0, text.output
    assert f"from {STACK_SITE}/{STACK_VOLUME} sent" in flat(text.stdout)
    assert "lease" in flat(text.stdout) and "pinned copy, is not evicted" in flat(text.stdout)
    status_until("team/ds", "evicted")


def test_a_failed_fill_exits_1_with_the_reason(stack, tmp_path):
    synced(tmp_path)
    # The lake's data objects (not the gzip manifest) no longer match the commit's hashes.
    for blob in (stack.home / "lake" / "blobs").rglob("*"):
        if blob.is_file() and blob.read_bytes()[:2] != b"\x1f\x8b":
            blob.write_bytes(b"tampered")
    failed = cli("cache", "request", "team/ds", "--site", STACK_SITE)
    assert failed.exit_code == 1, failed.output
    assert "caching team/ds@latest at site dgx failed" in flat(failed.stderr) and "failed" in flat(failed.stderr)

    as_json = cli("cache", "request", "team/ds", "--site", STACK_SITE, "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["state"] == "failed" and "failed" in json.loads(as_json.stderr)["error"]

    unknown_volume = cli("cache", "request", "team/ds", "--site", STACK_SITE, "--volume", "nfs9")
    assert unknown_volume.exit_code == 1 and "has no volume 'nfs9'" in flat(unknown_volume.stderr)


def test_refusals_and_usage_errors(stack, tmp_path):
    synced(tmp_path)
    unknown = cli("cache", "request", "team/nope", "--site", STACK_SITE)
    assert unknown.exit_code == 1 and "has no dataset 'nope'" in flat(unknown.stderr)
    no_site = cli("cache", "request", "team/ds", "--site", "elsewhere")
    assert no_site.exit_code == 1 and "elsewhere" in flat(no_site.stderr)
    never = cli("cache", "status", "team/ds", "--site", STACK_SITE)
    assert never.exit_code == 1 and "no copy of commit" in flat(never.stderr)
    assert cli("cache", "request", "a/b/c", "--site", STACK_SITE).exit_code == 2
    assert cli("cache", "status", "team/ds@", "--site", STACK_SITE).exit_code == 2
    assert cli("cache", "request", "team/ds").exit_code == 2  # --site is required
    bad_volume = cli("cache", "request", "team/ds", "--site", STACK_SITE, "--volume", "Not_A_Volume", "--json")
    assert bad_volume.exit_code == 2 and "body.volume" in json.loads(bad_volume.stderr)["error"]


def test_without_a_token_every_command_says_how_to_set_one(stack, tmp_path, monkeypatch):
    monkeypatch.delenv("LAKECACHE_TOKEN")
    monkeypatch.setenv("LAKECACHE_HOME", str(tmp_path / "empty-home"))
    for args in (["cache", "request", "team/ds", "--site", STACK_SITE], ["cache", "status", "team/ds", "--site", "x"],
                 ["data", "list"], ["site", "volumes", STACK_SITE]):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        message = flat(result.stderr)
        assert "no token was sent" in message and "LAKECACHE_TOKEN" in message, message
        assert "lakecache up" in message and "<home>/admin-token" in message

    monkeypatch.setenv("LAKECACHE_TOKEN", "lct_not-a-real-token")
    wrong = cli("cache", "status", "team/ds", "--site", STACK_SITE, "--json")
    assert wrong.exit_code == 2
    problem = json.loads(wrong.stderr)
    assert problem["status"] == 401 and "the token was refused" in problem["error"]

    # No LAKECACHE_TOKEN: the administrator token file under LAKECACHE_HOME is used.
    monkeypatch.delenv("LAKECACHE_TOKEN")
    monkeypatch.setenv("LAKECACHE_HOME", str(stack.home))
    assert cli_json("data", "list", "--project", "team") == []


def test_settings_name_only_the_gateway_token_and_project(monkeypatch, tmp_path):
    for name in ("LAKECACHE_API_URL", "LAKECACHE_TOKEN", "LAKECACHE_PROJECT", "LAKECACHE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = ClientSettings()
    assert (settings.gateway_url, settings.project, settings.token) == ("http://127.0.0.1:8080", "default", None)
    # Nothing else to set: no per-service URL, no lake credentials.
    assert not {"cacher_url", "evictor_url", "s3_access_key_id", "s3_secret_access_key"} & set(type(settings)
                                                                                                .model_fields)
    monkeypatch.setenv("LAKECACHE_API_URL", "https://lakecache.example/")
    assert ClientSettings().gateway_url == "https://lakecache.example"


def test_help_of_the_cache_commands():
    group = cli("cache", "--help")
    assert group.exit_code == 0
    assert all(part in flat(group.stdout) for part in ("LAKECACHE_API_URL", "http://127.0.0.1:8080", "LAKECACHE_TOKEN",
                                                       "admin-token", "Exit codes"))
    for command in ("request", "status", "evict"):
        result = cli("cache", command, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout and "--site" in result.stdout, command
    assert "--no-wait" in cli("cache", "request", "--help").stdout


def test_sse_parser_messages_comments_fragments_and_line_endings():
    parser = SseParser()
    stream = (b": keep-alive\n\nevent: status\r\nid: 3\r\ndata: {\"a\":\r\ndata:1}\r\n\r\n"
              b"data: plain\n\nevent: status\nid: 4\ndata: {\"state\": \"ready\"}\n\nevent: status\ndata: cut")
    messages = [m for i in range(len(stream)) for m in parser.feed(stream[i:i + 1])]  # one byte at a time
    assert messages == [SseMessage("status", '{"a":\n1}', "3"), SseMessage("message", "plain", "3"),
                        SseMessage("status", '{"state": "ready"}', "4")]
    assert parser.last_id == "4"


def test_sse_parser_takes_the_value_after_one_optional_space():
    assert SseParser().feed(b"data:4\n\ndata:  4\n\n") == [SseMessage("message", "4", None),
                                                           SseMessage("message", " 4", None)]


async def test_follow_reconnects_when_the_stream_drops_and_raises_problems():
    """A stream that ends before a final state is opened again, with the last event id; an
    error answer is its problem; a stream that keeps dropping gives up."""
    statuses = [{"state": "requested"}, {"state": "filling"}, {"state": "ready"}]
    seen_ids: list[str | None] = []

    async def events(request: web.Request) -> web.StreamResponse:
        if request.path == "/forbidden":
            return web.json_response({"title": "Forbidden", "detail": "viewer needed"}, status=403)
        seen_ids.append(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if request.path == "/dropping":
            await response.write(b": keep-alive\n\n")
            return response
        connection = len(seen_ids)  # 1: requested then dropped; 2: filling then ready
        for i, status in enumerate(statuses[:2] if connection == 1 else statuses[1:], start=connection):
            await response.write(f"event: status\nid: {i}\ndata: {json.dumps(status)}\n\n".encode())
        return response

    app = web.Application()
    app.router.add_get("/{name}", events)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        received: list[dict] = []
        final = await follow_status(http, str(server.make_url("/events")), what="follow", on_status=received.append,
                                    backoff=0.01)
        assert final == {"state": "ready"}
        assert [s["state"] for s in received] == ["requested", "filling", "filling", "ready"]
        assert seen_ids == [None, "2"]

        with pytest.raises(GatewayForbidden, match="follow: viewer needed") as refused:
            await follow_status(http, str(server.make_url("/forbidden")), what="follow", on_status=print)
        assert refused.value.status == 403
        with pytest.raises(GatewayUnavailable, match="lost the live progress"):
            await follow_status(http, str(server.make_url("/dropping")), what="follow", on_status=print,
                                backoff=0.001)
