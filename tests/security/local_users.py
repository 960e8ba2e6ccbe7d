"""Attackers on the host itself: another OS user (``nobody``), and a local user racing the CLI.

:func:`run_as_nobody` runs a Python script as ``nobody`` (the tests run as root in CI; elsewhere
they skip, and fail under ``CI=true``); :func:`as_other_os_user` sends HTTP requests from there.
:class:`RacedCli` runs ``lakecache`` in a child process that stops where a race is won, so the
test can act as the racing user at that very moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.security.actors import Person, Scene
from tests.servers.registry import in_ci

NOBODY_UID = 65534

_REQUESTS = textwrap.dedent('''
    import json, os, sys, urllib.request, urllib.error
    answers = []
    for call in json.loads(sys.argv[1]):
        data = call["body"].encode() if call["body"] is not None else None
        request = urllib.request.Request(call["url"], method=call["method"], headers=call["headers"], data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answers.append([answer.status, answer.read().decode("utf-8", "replace")])
        except urllib.error.HTTPError as exc:
            answers.append([exc.code, exc.read().decode("utf-8", "replace")])
    print(json.dumps({"uid": os.getuid(), "answers": answers}))
''')


def other_user_interpreter() -> str:
    """A Python another OS user may run (the project's may live under root's 0700 home)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if os.path.exists(candidate) and all(os.stat(p).st_mode & 0o001 for p in Path(candidate).resolve().parents):
            return candidate
    pytest.fail("no Python interpreter that another OS user may run (tried /usr/bin/python3, "
                "/usr/local/bin/python3 and this one)")


def drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY_UID)
    os.setuid(NOBODY_UID)


def needs_root() -> None:
    """Skip (fail in CI) where this process cannot become another OS user."""
    if os.geteuid() != 0:
        message = "acting as another OS user needs root (CI runs as root)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


async def run_as_nobody(script: str, *args: str, timeout: float = 120) -> str:
    """Run Python ``script`` with ``args`` as the OS user ``nobody`` (it must succeed): its stdout."""
    needs_root()
    # The services answer on this event loop: the child must not block it.
    child = await asyncio.create_subprocess_exec(
        other_user_interpreter(), "-c", script, *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, preexec_fn=drop_to_nobody, cwd="/")
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout)
    assert child.returncode == 0, stderr.decode()
    return stdout.decode()


async def as_other_os_user(calls: list[tuple[str, str, dict[str, str], Any]]) -> list[tuple[int, str]]:
    """Send ``(method, url, headers, json body or None)`` from a process running as ``nobody``:
    each answer's status and text."""
    plan = [{"method": m, "url": u, "headers": {**h, **({"Content-Type": "application/json"} if b is not None
                                                       else {})},
             "body": None if b is None else json.dumps(b)} for m, u, h, b in calls]
    report = json.loads(await run_as_nobody(_REQUESTS, json.dumps(plan)))
    assert report["uid"] == NOBODY_UID
    return [(status, text) for status, text in report["answers"]]


# --- a local user racing the CLI ----------------------------------------------------------------

_RACED_CLI = textwrap.dedent('''
    import hashlib, os, sys, time
    from lakecache.sdk import staging, uploads

    pause_after = os.environ["RACE_PAUSE_AFTER"]

    def pause(word):
        print(word, flush=True)
        sys.stdin.readline()  # the other user acts now

    real_scan = staging.scan_tree

    def scan_then_pause(root, **options):
        tree = real_scan(root, **options)
        if pause_after == "scan":
            pause("SCANNED")
        return tree

    real_next, paused = uploads._Body._next, []

    def chunk_then_pause(body):
        chunk = real_next(body)
        if pause_after == "first-upload-chunk" and not paused:
            paused.append(True)
            pause("UPLOADING")
        return chunk

    staging.scan_tree, uploads._Body._next = scan_then_pause, chunk_then_pause
    if os.environ.get("RACE_SLOW_DISK"):
        real_sha256 = hashlib.sha256

        class SlowSha256:  # a slow disk: every read takes half a second to hash
            def __init__(self, *args):
                self._digest = real_sha256(*args)

            def update(self, data):
                print("HASHING", flush=True)
                time.sleep(0.5)
                self._digest.update(data)

            def hexdigest(self):
                return self._digest.hexdigest()

        hashlib.sha256 = SlowSha256

    from lakecache.cli.main import app

    sys.argv = ["lakecache", *sys.argv[1:]]
    app()
''')


class RacedCli:
    """``lakecache`` in a child process that stops at the moment a racing user needs (right
    after the sync listed the directory, or after the first chunk of an upload), prints a word
    and waits until :meth:`resume`: what the race does to a real process, without luck."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, world: Scene, who: Person, *args: str, pause_after: str, slow_disk: bool = False
                    ) -> RacedCli:
        env = {**os.environ, "LAKECACHE_API_URL": world.gateway, "LAKECACHE_TOKEN": who.token or "",
               "LAKECACHE_HOME": str(world.root / "cli-home"), "LAKECACHE_CACHE_DIR": str(world.root / "cli-cache"),
               "RACE_PAUSE_AFTER": pause_after, **({"RACE_SLOW_DISK": "1"} if slow_disk else {})}
        env.pop("LAKECACHE_CONFIG", None)
        env.pop("LAKECACHE_PROJECT", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _RACED_CLI, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=world.root)
        return cls(process)

    async def wait_for(self, word: str, timeout: float = 60) -> None:
        """Return once the process printed ``word`` on a line of its own."""
        async def read() -> None:
            assert self.process.stdout is not None
            while line := await self.process.stdout.readline():
                if line.strip() == word.encode():
                    return
            raise AssertionError(f"the CLI ended without printing {word}: {await self.stderr()}")

        await asyncio.wait_for(read(), timeout)

    def resume(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode()

    async def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """(exit code, the rest of stdout, stderr) once the process ended."""
        try:
            stdout, stderr = await asyncio.wait_for(self.process.communicate(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"the CLI did not stop within {timeout} s") from None
        return self.process.returncode, stdout.decode(), stderr.decode()
