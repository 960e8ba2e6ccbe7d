"""A second OS user on the same host, without a LakeCache token, against `lakecache up`'s data.

The installation runs as this (root) test process with its home in a directory every user may
traverse; a child process drops to ``nobody`` and tries what such a user would: read the home's
keys, tokens, stores and lake, and call every internal route (bare and with a forged
``X-LakeCache-User``) and the gateway. Everything must be refused. Dropping privileges needs
root: CI runs as root; elsewhere the test skips, and fails when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.security.conftest import installation
from tests.security.local_users import NOBODY_UID, drop_to_nobody, needs_root, other_user_interpreter
from tests.security.test_internal_matrix import targets

_PROBE = textwrap.dedent('''
    import json, os, sys, urllib.request, urllib.error
    plan = json.loads(sys.argv[1])
    report = {"uid": os.getuid(), "read": {}, "listed": {}, "http": {}}
    for path in plan["files"]:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            report["read"][path] = "read"
        except OSError as exc:
            report["read"][path] = type(exc).__name__
    for path in plan["dirs"]:
        try:
            os.listdir(path)
            report["listed"][path] = "listed"
        except OSError as exc:
            report["listed"][path] = type(exc).__name__
    for call in plan["calls"]:
        request = urllib.request.Request(call["url"], method=call["method"], headers=call["headers"],
                                         data=b"{}" if call["method"] in ("POST", "PUT", "PATCH") else None)
        if request.data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                report["http"][call["name"]] = answer.status
        except urllib.error.HTTPError as exc:
            report["http"][call["name"]] = exc.code
    print(json.dumps(report))
''')


async def test_another_os_user_can_read_nothing_and_call_nothing(tmp_path):
    needs_root()
    # A parent every user may traverse, so only LakeCache's own modes protect the home.
    parent = Path(tempfile.mkdtemp(prefix="lakecache-shared-", dir="/tmp"))
    parent.chmod(0o755)
    try:
        home = parent / "home"
        async with installation(home, parent / "volume") as stack:
            files = sorted(str(p) for p in home.rglob("*") if p.is_file())
            assert any(p.endswith("admin-token") for p in files) and any(p.endswith(".key") for p in files)
            calls = [{"name": f"{t} bare", "url": t.base_url + t.target, "method": t.method, "headers": {}}
                     for t in targets(stack)]
            calls += [{"name": f"{t} forged", "url": t.base_url + t.target, "method": t.method,
                       "headers": {"X-LakeCache-User": "user:admin"}} for t in targets(stack)]
            gateway = stack.services["gateway"].base_url
            calls.append({"name": "gateway datasets", "url": f"{gateway}/api/v1/datasets?project=vision",
                          "method": "GET", "headers": {}})
            for name, running in stack.internal.items():
                calls.append({"name": f"{name} metrics", "url": running.base_url + "/metrics", "method": "GET",
                              "headers": {}})
            plan = {"files": files, "dirs": [str(home), str(home / "keys"), str(home / "lake")], "calls": calls}
            # The services answer on this event loop: the child must not block it.
            child = await asyncio.create_subprocess_exec(
                other_user_interpreter(), "-c", _PROBE, json.dumps(plan), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, preexec_fn=drop_to_nobody, cwd="/")
            stdout, stderr = await asyncio.wait_for(child.communicate(), 300)
        assert child.returncode == 0, stderr.decode()
        report = json.loads(stdout)
        assert report["uid"] == NOBODY_UID
        assert {p: r for p, r in report["read"].items() if r == "read"} == {}
        assert {p: r for p, r in report["listed"].items() if r == "listed"} == {}
        answered = {name: status for name, status in report["http"].items() if status != 401}
        assert answered == {}, f"routes that did not refuse another OS user: {answered}"
        assert len(report["http"]) == len(calls)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_the_probe_really_runs_as_another_user():
    """The probe above proves something only if its child process is not root."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    done = subprocess.run([other_user_interpreter(), "-c", "import os; print(os.getuid())"], capture_output=True,
                          text=True, preexec_fn=drop_to_nobody, check=True)
    assert int(done.stdout) == NOBODY_UID
