"""Reading a cached dataset version from a job: ``lakecache.use``.

    import lakecache

    with lakecache.use("team/images@v3", site="dgx") as root:   # a pathlib.Path, read-only
        train(root / "train")

Entering the block:

1. resolves ``[project/]dataset@ref`` (``@latest`` when no ref is given) to one commit id, once,
   so the whole block reads one immutable version. The project is the reference's, else the
   ``project`` argument, else the job token's, else ``LAKECACHE_PROJECT`` (as ``CopyLease``);
2. looks at that copy's status at ``site``. A ready copy is a *cache hit*: nothing is requested
   and only the gateway is called (no byte comes from the lake). Otherwise, with
   ``on_miss="fail"`` it raises ``CopyNotReady``; with ``on_miss="wait"`` (the default) it asks
   for the copy and waits up to ``timeout`` seconds for it (``CopyWaitTimeout``; a failed fill
   raises ``CopyFillFailed`` with the cacher's reason), printing its progress to stderr: a line
   every few seconds, or a progress bar when stderr is a terminal;
3. leases the copy (``CopyLease``: renewed in the background, released when the block ends,
   also on an exception or SIGTERM; a killed job's lease expires after ``lease_seconds``);
4. reports the read (the evictor counts the copy as used now) and, given a ``run``
   (``lakecache.start_run``), records the input on it with the commit, site, volume, whether it
   was a cache hit and how long the job waited.

``use`` is the synchronous form (its gateway calls and lease renewal run on a private event loop
in a background thread); ``use_async`` the same for ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from lakecache.sdk.errors import CopyFillFailed, CopyNotReady, CopyWaitTimeout, GatewayError, GatewayNotFound
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.leases import CopyLease, token_project
from lakecache.sdk.refs import DatasetRef, parse_ref
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.use_progress import WaitProgress

if TYPE_CHECKING:
    from lakecache.sdk.tracking import Run

log = logging.getLogger(__name__)

OnMiss = Literal["wait", "fail"]
#: Seconds between two looks at the copy's status while waiting.
POLL_SECONDS = 0.5
#: The exit status of a job ended by SIGTERM (128 + 15), as a shell reports it.
SIGTERM_EXIT = 128 + signal.SIGTERM


@contextlib.asynccontextmanager
async def use_async(ref: str, *, site: str, volume: str | None = None, project: str | None = None,
                    timeout: float = 3600,  # noqa: ASYNC109 - use()'s signature: the wait, not the block
                    on_miss: OnMiss = "wait", settings: ClientSettings | None = None, run: Run | None = None,
                    lease_seconds: int = 600, holder: str | None = None) -> AsyncIterator[Path]:
    """``async with use_async(ref, site=…) as root:`` — see the module; ``root`` is the copy's
    read-only view on the site's volume (``volume``: the one to read, else where it is ready)."""
    if on_miss not in ("wait", "fail"):
        raise ValueError(f"on_miss must be 'wait' or 'fail', got {on_miss!r}")
    settings = settings or ClientSettings()
    async with GatewayClient(settings) as gateway:
        dataset = await _dataset(gateway, ref, project)
        commit_id = (await gateway.get_commit(dataset.project, dataset.name, dataset.ref_or_latest))["id"]
        hit, waited = await _ready(gateway, dataset, commit_id, site, volume, timeout, on_miss)
        terminated = _SigtermCancels.install()
        try:
            async with CopyLease(site, commit_id, project=dataset.project, settings=settings, holder=holder,
                                 ttl_seconds=lease_seconds, volume=volume) as leased:
                try:
                    await gateway.record_read(dataset.project, site, commit_id, volume=leased.volume, cache_hit=hit)
                except GatewayError as exc:  # the job reads all the same; only the copy's last use lags
                    log.warning("%s; the read is not counted as use of the copy", exc)
                if run is not None:
                    run.record_input(dataset.name, commit_id, site=site, volume=leased.volume, cache_hit=hit,
                                     waited_seconds=round(waited, 3))
                yield leased.path
        except asyncio.CancelledError:
            if terminated is not None and terminated.fired:
                raise SystemExit(SIGTERM_EXIT) from None
            raise
        finally:
            if terminated is not None:
                terminated.restore()


def use(ref: str, *, site: str, volume: str | None = None, project: str | None = None, timeout: float = 3600,
        on_miss: OnMiss = "wait", settings: ClientSettings | None = None, run: Run | None = None,
        lease_seconds: int = 600, holder: str | None = None) -> contextlib.AbstractContextManager[Path]:
    """``with use(ref, site=…) as root:`` — see the module; ``root`` is the copy's read-only view
    (a ``pathlib.Path``). Raises ``CopyNotReady`` (``on_miss="fail"``), ``CopyWaitTimeout``,
    ``CopyFillFailed`` and the SDK's ``GatewayError`` subclasses."""
    return _Use(lambda: use_async(ref, site=site, volume=volume, project=project, timeout=timeout, on_miss=on_miss,
                                  settings=settings, run=run, lease_seconds=lease_seconds, holder=holder))


class _Use:
    """``use_async`` driven from synchronous code, on an event loop in its own thread (the lease
    renews there while the block runs)."""

    def __init__(self, make: Callable[[], contextlib.AbstractAsyncContextManager[Path]]) -> None:
        self._make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inner: contextlib.AbstractAsyncContextManager[Path] | None = None
        self._previous: Any = None

    def __enter__(self) -> Path:
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_serve, args=(loop,), name="lakecache-use", daemon=True)
        self._thread.start()
        self._inner = self._make()
        entering = asyncio.run_coroutine_threadsafe(self._inner.__aenter__(), loop)
        try:
            path = entering.result()
        except BaseException:
            entering.cancel()  # e.g. Ctrl-C while waiting for the copy
            self._stop()
            raise
        self._previous = _on_sigterm(_exit_on_sigterm)
        return path

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        _on_sigterm(self._previous)  # first: a second SIGTERM while releasing ends the job at once
        assert self._loop is not None and self._inner is not None
        try:
            return bool(asyncio.run_coroutine_threadsafe(self._inner.__aexit__(kind, error, traceback),
                                                         self._loop).result())
        finally:
            self._stop()

    def _stop(self) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(SIGTERM_EXIT)


def _on_sigterm(handler: Any) -> Any:
    """Install ``handler`` for SIGTERM (main thread only: elsewhere Python cannot) and return the
    one it replaced; ``None`` changes nothing."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


class _SigtermCancels:
    """While an ``async with use_async`` block runs in the main thread: SIGTERM cancels the task
    running it, so the block unwinds through the lease's release and ends in ``SystemExit``
    (raising from a signal handler in the middle of the event loop could skip the release)."""

    def __init__(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.task, self.loop, self.fired = task, loop, False
        self.previous = _on_sigterm(self._handle)

    @classmethod
    def install(cls) -> _SigtermCancels | None:
        task = asyncio.current_task()
        if task is None or threading.current_thread() is not threading.main_thread():
            return None
        return cls(task, asyncio.get_running_loop())

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.fired = True
        self.loop.call_soon_threadsafe(self.task.cancel)

    def restore(self) -> None:
        _on_sigterm(self.previous)


async def _dataset(gateway: GatewayClient, ref: str, project: str | None) -> DatasetRef:
    """The reference with its project: the text's, else ``project``, else the token's (see the module)."""
    named = "/" in ref.partition("@")[0]
    parsed = parse_ref(ref, project or "default")
    if named and project is not None and parsed.project != project:
        raise ValueError(f"{ref!r} names project {parsed.project!r}, but project={project!r} was given; "
                         "name one project")
    if not named and project is None:
        parsed = parse_ref(ref, await token_project(gateway))
    return parsed


async def _status(gateway: GatewayClient, project: str, site: str, commit_id: str) -> dict[str, Any] | None:
    try:
        return await gateway.copy_status(project, site, commit_id)
    except GatewayNotFound:
        return None


def _ready_on(status: dict[str, Any] | None, volume: str | None) -> bool:
    if status is None:
        return False
    if volume is None:
        return status["state"] == "ready"
    return any(v["volume"] == volume and v["state"] == "ready" for v in status.get("volumes") or [])


async def _ready(gateway: GatewayClient, dataset: DatasetRef, commit_id: str, site: str, volume: str | None,
                 wait_seconds: float, on_miss: OnMiss) -> tuple[bool, float]:
    """Wait until the copy is ready (asking for it on a miss); whether it was ready on arrival
    and the seconds waited."""
    project = dataset.project
    what = f"{project}/{dataset.name}@{commit_id[:12]} at site {site}" + (f", volume {volume}" if volume else "")
    status = await _status(gateway, project, site, commit_id)
    if _ready_on(status, volume):
        return True, 0.0
    state = status["state"] if status else "missing"
    if on_miss == "fail":
        raise CopyNotReady(f"{what} is not cached ({state}); ask for it with `lakecache cache request "
                           f"{project}/{dataset.name}@{commit_id} --site {site}`, or use on_miss='wait'",
                           project=project, site=site, commit_id=commit_id, state=state)
    started = time.monotonic()
    accepted = await gateway.request_cache(project, dataset.name, site, ref=commit_id, volume=volume)
    status = accepted["status"]
    with WaitProgress(what) as progress:
        while True:
            progress.show(status)
            if _ready_on(status, volume):
                return False, time.monotonic() - started
            failure = _failure(status, volume)
            if failure is not None:
                raise CopyFillFailed(f"{what}: the cacher could not make the copy ready: {failure}; see "
                                     f"`lakecache cache status`, fix the cause and try again",
                                     project=project, site=site, commit_id=commit_id, error=failure)
            if time.monotonic() - started >= wait_seconds:
                raise CopyWaitTimeout(f"{what} was not ready after {wait_seconds:g} s (it is {status['state']}); wait "
                                      "longer (timeout=…) or ask an operator why the fill is slow",
                                      project=project, site=site, commit_id=commit_id, state=status["state"])
            await asyncio.sleep(POLL_SECONDS)
            status = await _status(gateway, project, site, commit_id) or status


def _failure(status: dict[str, Any], volume: str | None) -> str | None:
    if status["state"] != "failed":
        return None
    errors = [v.get("error") for v in status.get("volumes") or []
              if v["state"] == "failed" and (volume is None or v["volume"] == volume)]
    return next((e for e in errors if e), None) or status.get("error") or "no reason given"


__all__ = ["CopyFillFailed", "CopyNotReady", "CopyWaitTimeout", "use", "use_async"]
