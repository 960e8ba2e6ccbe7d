"""Bad input at the gateway is a 4xx problem document, never a 500 or aiohttp's plain text: deeply
nested JSON, oversized bodies (declared, chunked, streamed), over-long strings, out-of-range
numbers and control characters in names and ids. Each test sends the input that once broke it.

The backends are unreachable here (``api``): every refusal happens in the gateway, before it
would forward anything (a forwarded request would answer 503).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from lakecache.core.runtime.problems import MAX_JSON_DEPTH, json_nesting
from lakecache.gateway.auth import Role
from tests.gateway.conftest import audit_records, make_user

PROBLEM = "application/problem+json"
MB = 1024 * 1024


async def problem_of(response) -> dict:
    assert response.content_type == PROBLEM, (response.status, await response.text())
    return await response.json()


def nested(depth: int) -> bytes:
    """A dataset whose ``tags`` nest ``depth`` levels deep (the body itself is one more)."""
    return b'{"project": "vision", "name": "cats", "tags": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.fixture
async def editor(auth):
    return await make_user(auth, "ed", {"vision": Role.EDITOR})


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 20_000])
async def test_deeply_nested_json_is_refused_with_400_before_any_parser_recurses(api, editor, depth):
    async with api.post("/api/v1/datasets", data=nested(depth), headers={**editor.header,
                                                                         "Content-Type": "application/json"}) as r:
        problem = await problem_of(r)
    assert r.status == 400 and problem["type"] == "urn:lakecache:problem:invalid-request"
    assert problem["errors"] == [{"location": "body", "message": f"nests deeper than {MAX_JSON_DEPTH} levels of "
                                                                 "arrays and objects; send a flatter document"}]


async def test_json_within_the_depth_limit_reaches_the_models(api, editor):
    async with api.post("/api/v1/datasets", data=nested(MAX_JSON_DEPTH - 2),
                        headers={**editor.header, "Content-Type": "application/json"}) as r:
        problem = await problem_of(r)
    assert r.status == 400 and {e["location"] for e in problem["errors"]} >= {"body.tags.0"}
    assert "nests deeper" not in problem["detail"]


async def raw_exchange(api, head: str, body_chunks: list[bytes] = ()) -> tuple[int, dict[str, str], bytes]:
    """Send a hand-written request (what a client declares, not what aiohttp's client would do)
    and read the answer: (status, headers, body)."""
    reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        for chunk in body_chunks:
            writer.write(chunk)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


async def test_a_declared_50_mb_body_is_refused_with_a_413_problem_before_it_is_read(api, auth, editor):
    token = editor.header["Authorization"]
    head = (f"POST /api/v1/datasets HTTP/1.1\nHost: gateway\nAuthorization: {token}\nX-Request-Id: big-1\n"
            f"Content-Type: application/json\nContent-Length: {50 * MB}\n")
    status, headers, body = await raw_exchange(api, head)  # the 50 MB never sent: nothing waits for them
    assert status == 413 and headers["content-type"].startswith(PROBLEM)
    problem = json.loads(body)
    assert problem["type"] == "urn:lakecache:problem:payload-too-large"
    assert f"has {50 * MB} bytes" in problem["detail"] and "accepts at most 65536" in problem["detail"]
    [record] = [r for r in await audit_records(auth, actor="user:ed") if r["request_id"] == "big-1"]
    assert (record["action"], record["outcome"], record["status"]) == ("datasets:write", "failed", 413)


async def test_a_chunked_body_past_the_servers_limit_is_a_413_problem_not_plain_text(api, editor):
    token = editor.header["Authorization"]
    head = (f"POST /api/v1/datasets HTTP/1.1\nHost: gateway\nAuthorization: {token}\n"
            "Content-Type: application/json\nTransfer-Encoding: chunked\n")
    piece = b'{"project": "vision", "name": "cats", "description": "' + b"x" * (MB // 2)
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * 3 + [b"0\r\n\r\n"]
    status, headers, body = await raw_exchange(api, head, chunks)
    assert status == 413 and headers["content-type"].startswith(PROBLEM)
    assert json.loads(body)["type"] == "urn:lakecache:problem:payload-too-large"


async def test_a_streamed_upload_declaring_more_than_its_limit_is_a_413_problem(api, editor):
    token = editor.header["Authorization"]
    head = (f"POST /api/v1/datasets/vision/cats/commits HTTP/1.1\nHost: gateway\nAuthorization: {token}\n"
            f"Content-Type: application/x-ndjson\nContent-Length: {5 * 1024 ** 3}\n")
    status, headers, body = await raw_exchange(api, head)
    assert status == 413 and headers["content-type"].startswith(PROBLEM)
    assert "accepts at most 4294967296" in json.loads(body)["detail"]


async def test_a_5000_character_volume_path_is_a_400_naming_the_field(api, auth):
    root = await make_user(auth, "root", admin=True)
    async with api.post("/api/v1/sites/dgx/volumes", headers=root.header,
                        json={"name": "nfs2", "path": "/" + "a" * 4999}) as r:
        problem = await problem_of(r)
    assert r.status == 400 and [e["location"] for e in problem["errors"]] == ["body.path"]
    assert "4095" in problem["errors"][0]["message"]


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/sites/dgx/ttl", {"scope": "commit", "target": "c" * 64, "ttl_seconds": 10 ** 20}),
    ("/api/v1/sites/dgx/volumes", {"name": "nfs2", "path": "/mnt/nfs2", "ttl_seconds": 10 ** 20}),
])
async def test_a_huge_ttl_is_a_400_not_a_202_that_is_dropped(api, auth, path, body):
    root = await make_user(auth, "root", admin=True)
    async with api.request("PUT" if path.endswith("/ttl") else "POST", path, headers=root.header, json=body) as r:
        problem = await problem_of(r)
    assert r.status == 400 and [e["location"] for e in problem["errors"]] == ["body.ttl_seconds"]


@pytest.mark.parametrize(("method", "target"), [
    ("POST", "/api/v1/projects/vision/runs/run%001/job-tokens"),  # a NUL in a run id
    ("GET", "/api/v1/datasets/vision/ca%0Ats"),  # a newline in a dataset's name
    ("DELETE", "/api/v1/projects/vision/members/ada%7F"),  # DEL in a user's name
])
async def test_control_characters_in_path_variables_are_refused_with_400(api, editor, method, target):
    async with api.request(method, URL(target, encoded=True), headers=editor.header,
                           json={"expires_at": "2030-01-01T06:00:00Z"} if method == "POST" else None) as r:
        problem = await problem_of(r)
    assert r.status == 400 and problem["type"] == "urn:lakecache:problem:invalid-request"
    assert problem["errors"][0]["location"].startswith("path.") and "control character" in problem["detail"]


async def test_control_characters_and_overlong_query_values_are_refused_with_400(api, editor):
    for query, location in [("project=vision&q=a%00b", "query.q"), ("project=vi%00sion", "query.project"),
                            (f"project=vision&q={'x' * 5000}", "query.q")]:
        async with api.get(URL(f"/api/v1/datasets?{query}", encoded=True), headers=editor.header) as r:
            problem = await problem_of(r)
        assert r.status == 400 and [e["location"] for e in problem["errors"]] == [location], problem


async def test_control_characters_in_body_fields_that_name_things_are_refused_with_400(api, editor):
    cases = [
        ("POST", "/api/v1/tokens", {"name": "lap\x00top"}, "body.name"),
        ("POST", "/api/v1/caches", {"project": "vision", "dataset": "cats", "site": "dgx", "ref": "v1\x00"},
         "body.ref"),
        ("POST", "/api/v1/projects/vision/sites/dgx/copies/" + "c" * 64 + "/leases", {"holder": "job\n7"},
         "body.holder"),
    ]
    for method, path, body, location in cases:
        async with api.request(method, path, headers=editor.header, json=body) as r:
            problem = await problem_of(r)
        assert r.status == 400 and [e["location"] for e in problem["errors"]] == [location], (path, problem)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k'), inner,
                                                                                 max_size=3), max_leaves=20)


def json_depth(value) -> int:
    """Nesting depth of a parsed document: the oracle the byte scanner must agree with."""
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else None
    if children is None:
        return 0
    return 1 + max((json_depth(child) for child in children), default=0)


@given(_JSON)
def test_the_nesting_read_from_the_bytes_is_the_documents_own(value):
    raw = json.dumps(value).encode()
    assert json_nesting(raw) == json_depth(value)  # brackets inside strings do not count
