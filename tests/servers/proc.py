"""Process helpers shared by the test servers: cache paths, builds, ports, readiness, shutdown."""

from __future__ import annotations

import abc
import asyncio
import atexit
import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


class ServerError(RuntimeError):
    """A test server could not be prepared or started; the message says what to run."""


def cache_dir() -> Path:
    """Where built binaries and jars live between runs."""
    env = os.environ.get("LAKECACHE_TEST_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lakecache-test"


def fingerprint(*parts: str | Path) -> str:
    """A short hash of pinned versions and source files, written to a stamp after a build."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part.encode()
        digest.update(data + b"\0")
    return digest.hexdigest()[:16]


def stamp_matches(stamp: Path, expected: str, *outputs: Path) -> bool:
    """True when a previous build with the same fingerprint left all its outputs behind."""
    try:
        return stamp.read_text().strip() == expected and all(p.exists() for p in outputs)
    except OSError:
        return False


def run_build(cmd: Sequence[str], *, what: str, cwd: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 1800) -> None:
    """Run a build step; on failure raise ServerError carrying the tail of its output."""
    try:
        done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ServerError(f"{what}: {exc.filename} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd)}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join(output[-30:])
        raise ServerError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_tail(*paths: Path, lines: int = 40) -> str:
    """The last lines of each log, headed by its path, for error messages."""
    parts = []
    for path in paths:
        try:
            text = "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"
        except OSError:
            text = "(missing)"
        parts.append(f"--- last lines of {path} ---\n{text}")
    return "\n".join(parts)


# Every process started here, so an interpreter exit (even after a failed test session)
# leaves no broker or server running behind.
_LIVE: set[subprocess.Popen] = set()


def _stop_all_live() -> None:
    for proc in list(_LIVE):
        stop_process(proc, grace=5)


atexit.register(_stop_all_live)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the spawning thread dies, so a killed
    pytest (SIGKILL, CI time-out) leaves no server behind even though atexit never ran."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _parent_death_hook():
    # The death signal follows the spawning *thread*: only tie servers started from the main
    # thread (a restart() from a worker thread would otherwise stop when that thread ends).
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        return _die_with_parent
    return None


def spawn(cmd: Sequence[str], *, log: Path, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a server with stdout/stderr appended to `log`, in its own process group."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_parent_death_hook())
        except FileNotFoundError as exc:
            raise ServerError(f"cannot start {cmd[0]}: not found") from exc
    _LIVE.add(proc)
    return proc


def stop_process(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM the process group, wait `grace` seconds, then SIGKILL it."""
    if proc is None:
        return
    _LIVE.discard(proc)
    if proc.poll() is not None:
        return
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run_coro(factory: Callable[[], Awaitable[bool]]) -> bool:
    """Run an async client probe to completion from sync code.

    Inside a running event loop (e.g. `server.restart()` called from an async test) the probe
    runs on a fresh loop in a worker thread, since asyncio.run cannot nest.
    """
    async def main() -> bool:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def wait_ready(check: Callable[[], bool], *, proc: subprocess.Popen, what: str,
               logs: Sequence[Path], timeout: float, interval: float = 0.5) -> float:
    """Poll `check` until it returns True; fail early if the process dies.

    Returns the seconds it took. `check` may raise: that counts as not ready yet.
    """
    start = time.monotonic()
    last_error = ""
    while True:
        if proc.poll() is not None:
            raise ServerError(f"{what} exited with code {proc.returncode} before it was ready.\n"
                              f"{log_tail(*logs)}")
        try:
            if check():
                return time.monotonic() - start
        except Exception as exc:  # any client error just means "not yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() - start > timeout:
            raise ServerError(f"{what} not ready after {timeout:.0f} s"
                              f"{' (last error: ' + last_error + ')' if last_error else ''}.\n"
                              f"{log_tail(*logs)}")
        time.sleep(interval)


class ManagedServer(abc.ABC):
    """One server process in its own run directory: start (and wait until ready), stop, restart.

    Subclasses pick ports and write configs in `__init__`/`_setup` (once), and give the command
    line and a readiness probe; ports and data stay the same across `restart()`.
    """

    name = "server"
    ready_timeout = 60.0

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.proc: subprocess.Popen | None = None
        self.started_in = 0.0  # seconds the last start took until ready

    @property
    def log(self) -> Path:
        return self.run_dir / f"{self.name}.out"

    @property
    def logs(self) -> list[Path]:
        return [self.log]

    @abc.abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that start the server."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """True once the server answers a real request."""

    def _setup(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Once, before the first start (format storage, create directories)."""

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not getattr(self, "_set_up", False):
            self._setup()
            self._set_up = True
        cmd, env = self.command()
        self.proc = spawn(cmd, log=self.log, cwd=self.run_dir, env={**os.environ, **env})
        try:
            self.started_in = wait_ready(self.ready, proc=self.proc, what=self.name,
                                         logs=self.logs, timeout=self.ready_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
