"""Unsafe keys are refused at commit time, all listed, and nothing is committed."""

from __future__ import annotations

import pytest

from tests.catalog.conftest import entry

GOOD = entry("fine/ok.txt", "ok")

CASES = {
    "dot-dot": (["a/../b"], ["a/../b"], "'..'"),
    "dot": (["./a"], ["./a"], "'.'"),
    "absolute": (["/etc/passwd"], ["/etc/passwd"], "absolute"),
    "drive": (["C:/data/x"], ["C:/data/x"], "drive"),
    "backslash": (["a\\b"], ["a\\b"], "backslash"),
    "nul": (["a\x00b"], ["a\x00b"], "control"),
    "control": (["bell\x07"], ["bell\x07"], "control"),
    "empty-segment": (["a//b"], ["a//b"], "empty segment"),
    "long-segment": (["d/" + "s" * 256], ["d/" + "s" * 256], "segment is longer than 255"),
    "long-path": (["/".join(["p" * 200] * 21)], ["/".join(["p" * 200] * 21)], "longer than 4096"),
    "file-and-directory": (["a", "a/b"], ["a"], "also a directory"),
    "nfc-collision": (["caf\u00e9", "cafe\u0301"], ["caf\u00e9"], "NFC"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_unsafe_key_is_refused_and_nothing_is_committed(api, case):
    paths, reported, reason = CASES[case]
    await api.create("vision", "cats")
    head = await api.committed("vision", "cats", [GOOD])
    manifests = await api.manifest_keys()
    reply = await api.commit("vision", "cats", [GOOD, *(entry(p, p) for p in paths), entry("zz", "z")])
    assert reply.status == 422, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "urn:lakecache:problem:unsafe-paths" and reply.body["status"] == 422
    assert "nothing was committed" in reply.body["detail"]
    errors = reply.body["errors"]
    assert sorted({e["path"] for e in errors}) == sorted(reported)
    assert all(reason in e["reason"] for e in errors if e["path"] in reported), errors
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] == head
    assert await api.manifest_keys() == manifests
    assert await api.stored("commits").count_documents({}) == 1


async def test_every_unsafe_path_of_a_commit_is_listed(api):
    await api.create("vision", "cats")
    bad = [f"bad/{i}/../x" for i in range(30)] + ["/abs", "a\\b"]
    reply = await api.commit("vision", "cats", [entry(p, "x") for p in bad])
    assert reply.status == 422
    assert reply.body["total"] == 32 and len(reply.body["errors"]) == 32
    assert {e["path"] for e in reply.body["errors"]} == set(bad)
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None
    assert await api.manifest_keys() == []
