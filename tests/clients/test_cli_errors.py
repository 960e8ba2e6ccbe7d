"""The CLI never prints a traceback: against a scripted gateway (and lake) that answers
what the real ones would not — a presigned URL nobody answers at, an answer of the wrong shape
— every failure is one line on stderr (one JSON object with ``--json``) and an exit code. The
same scripted servers show what an upload sends to a presigned URL (the headers given, the
length, the file's bytes, and never the user's token) and how contents are asked about."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.uploads import missing_contents
from tests.clients.helpers import write_tree

runner = CliRunner()
TOKEN = "lct_the-users-token"
DATASET = "/api/v1/datasets/team/ds"
Answer = tuple[int, Any]


class Scripted:
    """An HTTP server in a thread answering ``answer(method, path, headers, body)``; it records
    every request."""

    def __init__(self, answer: Callable[[str, str, dict[str, str], bytes], Answer]) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return body

            def _any(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.append((self.command, self.path, headers, body))
                status, payload = answer(self.command, self.path, headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve(monkeypatch, tmp_path) -> Iterator[Callable[..., Scripted]]:
    started: list[Scripted] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKECACHE_TOKEN", TOKEN)
    monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "client-cache"))
    for name in ("LAKECACHE_PROJECT", "LAKECACHE_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def start(answer: Callable[[str, str, dict[str, str], bytes], Answer], *, gateway: bool = True) -> Scripted:
        server = Scripted(answer)
        started.append(server)
        if gateway:
            monkeypatch.setenv("LAKECACHE_API_URL", server.url)
        return server

    yield start
    for server in started:
        server.close()


def gateway_with_uploads_to(lake_url: str, headers: dict[str, str]) -> Callable[..., Answer]:
    """A gateway that knows ``team/ds``, wants every content uploaded to ``lake_url`` with
    ``headers``, and commits whatever it is sent."""

    def answer(method: str, path: str, _headers: dict[str, str], body: bytes) -> Answer:
        if (method, path) == ("GET", DATASET):
            return 200, {"project": "team", "name": "ds", "head": None}
        if (method, path) == ("POST", DATASET + "/uploads"):
            items = [{"sha256": c["sha256"], "size": c["size"], "present": False,
                      "upload": {"method": "PUT", "url": f"{lake_url}/{c['sha256']}?X-Amz-Signature=abc",
                                 "headers": headers, "expires_at": "2099-01-01T00:00:00Z"}}
                     for c in json.loads(body)["contents"]]
            return 200, {"items": items}
        if (method, path) == ("POST", DATASET + "/commits"):
            return 201, {"created": True, "unchanged": False, "commit": {"id": "c" * 64}}
        return 404, {"title": "Not Found", "detail": f"no route {method} {path}"}

    return answer


def test_a_presigned_upload_sends_the_given_headers_and_the_bytes_but_never_the_token(serve, tmp_path):
    content = b"the file's bytes"
    digest = hashlib.sha256(content)
    given = {"x-amz-checksum-sha256": base64.b64encode(digest.digest()).decode(), "x-amz-meta-origin": "sync"}
    lake = serve(lambda *request: (200, b""), gateway=False)
    serve(gateway_with_uploads_to(lake.url + "/bucket", given))
    root = write_tree(tmp_path / "data", {"a.txt": content})

    result = runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["uploaded"] == 1
    [(method, path, headers, body)] = lake.requests
    assert (method, path, body) == ("PUT", f"/bucket/{digest.hexdigest()}?X-Amz-Signature=abc", content)
    assert {k: headers[k] for k in given} == given and headers["content-length"] == str(len(content))
    assert "authorization" not in headers and "content-type" not in headers
    assert "transfer-encoding" not in headers  # S3 wants the length, not chunks


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_an_unreachable_lake_during_an_upload_is_one_error_line(serve, tmp_path, as_json):
    serve(gateway_with_uploads_to("http://127.0.0.1:9/bucket", {}))
    root = write_tree(tmp_path / "data", {"a.txt": b"a"})
    result = runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", *(["--json"] if as_json else [])])
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = json.loads(result.stderr)["error"] if as_json else one_error_line(result.stderr)
    assert "upload 'a.txt': the connection to 127.0.0.1:9 failed" in message and "run the sync again" in message


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_an_answer_of_an_unexpected_shape_is_one_error_line(serve, as_json):
    serve(lambda method, path, *_: (202, {"surprise": True}) if path == "/api/v1/caches" else
          (200, {"id": "c" * 64}))
    result = runner.invoke(app, ["cache", "request", "team/ds", "--site", "dgx", "--no-wait",
                                 *(["--json"] if as_json else [])])
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = json.loads(result.stderr)["error"] if as_json else one_error_line(result.stderr)
    assert message.startswith("lakecache cache request failed unexpectedly (KeyError")
    assert "LAKECACHE_API_URL" in message


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_gateway_answering_garbage_is_one_error_line(serve, as_json):
    serve(lambda *request: (200, b"<html>a proxy's login page</html>"))
    result = runner.invoke(app, ["data", "show", "team/ds", *(["--json"] if as_json else [])])
    if as_json:  # --json prints what the gateway said: it is not an error to pass it on
        assert result.exit_code == 0 and "login page" in result.stdout
        return
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert one_error_line(result.stderr).startswith("lakecache data show failed unexpectedly (AttributeError")


def test_an_unusable_hash_cache_is_a_configuration_error(serve, tmp_path, monkeypatch):
    serve(gateway_with_uploads_to("http://127.0.0.1:9/bucket", {}))
    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "a-file"))
    root = write_tree(tmp_path / "data", {"a.txt": b"a"})
    result = runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", "--json"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "LAKECACHE_CACHE_DIR" in json.loads(result.stderr)["error"]
    assert runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", "--no-hash-cache"]).exit_code == 1


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line of a text-mode failure, without the prefix."""
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line.removeprefix("error: ")


async def test_contents_are_asked_about_in_batches_of_at_most_1000(serve):
    def all_present(method: str, path: str, _headers: dict[str, str], body: bytes) -> Answer:
        items = [{**c, "present": True, "upload": None} for c in json.loads(body)["contents"]]
        return 200, {"items": items}

    gateway = serve(all_present)
    contents = {hashlib.sha256(str(i).encode()).hexdigest(): i for i in range(2500)}
    async with GatewayClient(ClientSettings(api_url=gateway.url, token=TOKEN)) as catalog:
        missing = await missing_contents(catalog, DatasetRef("team", "ds"), contents)
    assert missing == {}
    batches = [json.loads(body)["contents"] for _, _, _, body in gateway.requests]
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert {c["sha256"]: c["size"] for batch in batches for c in batch} == contents


def test_an_expired_upload_url_is_asked_for_again_once(serve, tmp_path):
    refusals = iter([(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")])
    lake = serve(lambda *request: next(refusals, (200, b"")), gateway=False)
    gateway = serve(gateway_with_uploads_to(lake.url + "/bucket", {}))
    root = write_tree(tmp_path / "data", {"a.txt": b"a"})

    result = runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", "--json"])
    assert result.exit_code == 0, result.output
    assert [method for method, *_ in lake.requests] == ["PUT", "PUT"]
    assert [path for _, path, *_ in gateway.requests].count(DATASET + "/uploads") == 2

    always_refused = serve(lambda *request: (403, b"<Error><Code>AccessDenied</Code></Error>"), gateway=False)
    serve(gateway_with_uploads_to(always_refused.url + "/bucket", {}))
    refused = runner.invoke(app, ["data", "sync", "team/ds", str(root), "-m", "one", "--no-hash-cache"])
    assert refused.exit_code == 1 and len(always_refused.requests) == 2
    assert "refused it (HTTP 403: AccessDenied)" in one_error_line(refused.stderr)
