"""Tracking a training job's run, synchronously, without slowing the training down.

    import lakecache

    with lakecache.start_run(project="team", experiment="resnet", params={"lr": 0.1}) as run:
        for step in range(steps):
            run.log_metrics({"loss": loss, "acc": acc}, step=step)
        run.log_artifact("model.pt")

``start_run`` finds the experiment by name (creating it when missing) and starts the run through
the gateway; it returns once the run exists. Leaving the ``with`` block finishes the run:
``finished``, ``failed`` when an exception escaped, ``killed`` on Ctrl-C. A run never finished
is flushed and finished when the interpreter exits: ``failed`` if it died of an exception,
``killed`` of Ctrl-C, else ``finished`` (``sys.exit(1)`` outside the block reads as finished).

Logging never waits for the network. ``log_metric``, ``log_params``, ``set_tags``,
``record_input`` and ``record_output`` only append to an in-memory buffer; a daemon thread with
its own event loop and ``GatewayClient`` sends it every ``flush_seconds`` (or as soon as 1,000
points wait) in batches of at most 1,000 points, 100 params and 100 tags. Each batch carries a
key (the run's random prefix and a sequence number) that stays the same on every retry, so the
tracker stores it once however often it is sent.

**When the buffer is full** (``buffer_size`` metric points, default 100,000: the gateway is down
or slower than the training), the *oldest* points are dropped to make room — the latest values
matter most when following a run — and counted: one warning per overflow burst (a burst ends
once the buffer drained to half), and the count is reported as the run's tag
``lakecache.dropped_points`` when it finishes. Params, tags and records are never dropped for
room. Failures that may pass (the gateway unreachable, timeouts, 5xx, 408, 429) are retried with
exponential backoff (0.5 s doubling to 30 s, ±20 % jitter) while the training goes on; a batch
too large for the gateway (413) is sent in halves; a batch it refuses (another 4xx: no
permission, the run ended) is logged once per status and dropped, its points counted as dropped.

``flush()`` waits until everything logged before it was sent. ``finish()`` flushes for at most
``finish_timeout`` seconds, then ends the run. A run also records its code (``git rev-parse
HEAD``, and whether ``git status --porcelain`` shows changes, in the working directory), entry
point (``sys.argv[0]``), host and site (``LAKECACHE_SITE``), and every ``sample_seconds`` the
process's CPU use and resident memory and, when ``pynvml`` (package ``nvidia-ml-py``) imports,
each GPU's utilization and memory (metrics ``system/…``). Settings (``LAKECACHE_API_URL``,
``LAKECACHE_TOKEN``, ``LAKECACHE_PROJECT``…) are ``ClientSettings``'.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import math
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from lakecache.core.vocabulary.runs import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    PARAM_VALUE_MAX,
    TAG_VALUE_MAX,
    is_key,
)
from lakecache.sdk.errors import GatewayError
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import COMMIT_ID
from lakecache.sdk.run_buffer import DROPPED_TAG, Batch, RunBuffer, backoff_delay, retryable
from lakecache.sdk.run_context import ResourceSampler, code_state
from lakecache.sdk.runs import RunStatus, metric_json
from lakecache.sdk.settings import ClientSettings

log = logging.getLogger(__name__)

#: Seconds ``finish()`` keeps trying to end the run once its flush is over (or timed out).
FINISH_GRACE_SECONDS = 10.0

T = TypeVar("T")
_KEY_RULE = "letters, digits, _ - . / and space, at most 250 characters"


def _millis(timestamp: datetime | float | None) -> int:
    if timestamp is None:
        return time.time_ns() // 1_000_000
    if isinstance(timestamp, datetime):
        return int((timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)).timestamp() * 1000)
    return int(timestamp)


def _param_value(key: str, value: Any) -> str | int | float | bool:
    if not isinstance(value, str | int | float | bool) or (isinstance(value, float) and not math.isfinite(value)):
        value = str(value)
    if isinstance(value, str) and len(value) > PARAM_VALUE_MAX:
        raise ValueError(f"param {key!r}: at most {PARAM_VALUE_MAX} characters, got {len(value)}")
    return value


class Run:
    """A run being tracked; made by :func:`start_run`. Use it as a context manager (leaving the
    block finishes the run) or call :meth:`finish`. Logging methods are safe from any thread."""

    def __init__(self, *, project: str | None, experiment: str, name: str | None, params: Mapping[str, Any] | None,
                 tags: Mapping[str, Any] | None, settings: ClientSettings | None, buffer_size: int,
                 flush_seconds: float, finish_timeout: float, sample_seconds: float, start_timeout: float) -> None:
        self.settings = settings or ClientSettings()
        self.flush_seconds, self.finish_timeout, self.sample_seconds = flush_seconds, finish_timeout, sample_seconds
        self.experiment = experiment
        self._buffer = RunBuffer(buffer_size)
        self._batch_prefix, self._batches = uuid.uuid4().hex, 0
        self._known_keys: set[str] = set()
        self._ended = False
        self._end_lock = threading.Lock()
        self._refusals_logged: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._max_points = MAX_METRICS_PER_BATCH  # lowered when the gateway finds a batch too large
        self._gateway: GatewayClient | None = None
        # Checked here, on the caller's thread: a bad name fails start_run, not a background batch.
        params, tags = self._checked_params(params or {}), self._checked_tags(tags or {})
        first_params, more_params = _split(params, MAX_PARAMS_PER_BATCH)
        first_tags, more_tags = _split(tags, MAX_TAGS_PER_BATCH)
        code_version, code_dirty = code_state()
        start = {"name": name, "params": first_params, "tags": first_tags, "code_version": code_version,
                 "code_dirty": code_dirty, "source": sys.argv[0] or None, "host": socket.gethostname(),
                 "site": os.environ.get("LAKECACHE_SITE") or None, "start_time": datetime.now(UTC)}
        started: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(project, start, start_timeout, started),
                                        name="lakecache-run", daemon=True)
        self._thread.start()
        #: The run as the gateway answered its start: ``id``, ``project``, ``experiment_id``…
        #: (for a job token's run: ``id``, ``project`` and ``attached``).
        self.info: dict[str, Any] = started.result()
        self.id: str = self.info["id"]
        self.project: str = self.info["project"]
        self.experiment_id: str | None = self.info.get("experiment_id")
        #: The run is the job token's: someone else started it and ends it (``lakecache job run``).
        self.attached: bool = bool(self.info.get("attached"))
        if self.attached:  # nothing was started, so the start's params and tags are logged instead
            self._buffer.add_params(first_params)
            self._buffer.add_tags(first_tags)
        self._buffer.add_params(more_params)
        self._buffer.add_tags(more_tags)
        atexit.register(self._at_exit)

    # logging (never waits for the network)

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: datetime | float | None = None) -> None:
        """Log one value of metric ``key`` at ``step`` (default 0); ``timestamp`` a ``datetime`` or
        epoch milliseconds (default now). NaN and infinities are values too."""
        self._log_point(key, value, step, _millis(timestamp))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None,
                    timestamp: datetime | float | None = None) -> None:
        """Log several metrics at one ``step`` and time."""
        moment = _millis(timestamp)
        for key, value in metrics.items():
            self._log_point(key, value, step, moment)

    def log_param(self, key: str, value: Any) -> None:
        """Log one hyperparameter (a param keeps its first value)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log hyperparameters: strings, numbers and booleans as they are, anything else as ``str``."""
        self._check_open()
        self._buffer.add_params(self._checked_params(params))

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (a later value replaces an earlier one)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags; values are sent as ``str``."""
        self._check_open()
        self._buffer.add_tags(self._checked_tags(tags))

    def record_input(self, dataset: str, commit_id: str, *, site: str | None = None, volume: str | None = None,
                     cache_hit: bool | None = None, bytes_read: int | None = None,
                     waited_seconds: float | None = None, context: str | None = None) -> None:
        """Record that the run read commit ``commit_id`` (64 hex digits) of the project's dataset
        ``dataset``: lineage from the data to the run and what the run makes."""
        self._check_open()
        if not (isinstance(commit_id, str) and COMMIT_ID.fullmatch(commit_id)):
            raise ValueError(f"record_input: commit_id must be a commit's 64 lower-case hex digits, got {commit_id!r}")
        self._buffer.add_record("record_input", _given(
            dataset=dataset, commit_id=commit_id, site=site, volume=volume, cache_hit=cache_hit, bytes_read=bytes_read,
            waited_seconds=waited_seconds, context=context))

    def record_output(self, kind: str, uri: str, *, name: str | None = None, dataset: str | None = None,
                      commit_id: str | None = None, sha256: str | None = None, size: int | None = None) -> None:
        """Record what the run wrote: ``kind`` ``model`` or ``artifact`` at ``uri``, or a
        ``dataset`` commit (name ``dataset`` and ``commit_id``)."""
        self._check_open()
        if kind not in ("model", "artifact", "dataset"):
            raise ValueError(f"record_output: kind must be model, artifact or dataset, got {kind!r}")
        self._buffer.add_record("record_output", _given(kind=kind, uri=uri, name=name, dataset=dataset,
                                                        commit_id=commit_id, sha256=sha256, size=size))

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> dict[str, Any]:
        """Store the local file ``path`` among the run's artifacts (under ``artifact_path``),
        streamed from disk. Unlike logging, this waits for the upload (the file may change once
        it returns) and raises ``GatewayError`` when it fails for good."""
        self._check_open()
        name = os.path.basename(os.fspath(path))
        target = f"{artifact_path.strip('/')}/{name}" if artifact_path and artifact_path.strip("/") else name

        async def upload() -> dict[str, Any]:
            assert self._gateway is not None
            return await self._gateway.put_artifact(self.project, self.id, target, path)

        deadline = time.monotonic() + max(self.finish_timeout, self.settings.request_timeout)
        return self._call(self._retrying(upload, deadline))

    # flushing and finishing

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far was sent (or dropped); ``False`` if ``timeout``
        seconds passed first."""
        mark = self._buffer.mark()
        if not self._thread.is_alive():
            return self._buffer.wait_sent(mark, 0)
        self._wake_sender()
        return self._buffer.wait_sent(mark, timeout)

    def finish(self, status: RunStatus = "finished") -> dict[str, Any] | None:
        """Flush (at most ``finish_timeout`` seconds) and end the run with ``status``; the run as
        the tracker has it, or ``None`` if it could not be ended (logged). An ``attached`` run is only
        flushed (``None``). Later calls do nothing."""
        with self._end_lock:
            if self._ended:
                return None
            self._ended = True
        with contextlib.suppress(Exception):
            atexit.unregister(self._at_exit)
        end_time = datetime.now(UTC)
        deadline = time.monotonic() + self.finish_timeout
        self._call_soon(self._stop_sampling)
        sent = self.flush(timeout=self.finish_timeout)
        if sent and self._buffer.dropped:
            self._buffer.add_tags({DROPPED_TAG: str(self._buffer.dropped)})
            sent = self.flush(timeout=max(0.0, deadline - time.monotonic()))
        if not sent:
            log.warning("run %s: %d logged items were not sent within finish_timeout (%g s); they are lost",
                        self.id, self._buffer.pending(), self.finish_timeout)
        grace = max(deadline - time.monotonic(), FINISH_GRACE_SECONDS)
        try:
            return self._call(self._end(status, end_time, time.monotonic() + grace), timeout=grace + 5)
        except Exception as exc:  # noqa: BLE001 - ending a run must not fail the job it tracked
            log.error("run %s could not be ended as %s: %s", self.id, status, exc)
            return None
        finally:
            self._call_soon(lambda: self._closed.set() if self._closed else None)
            self._thread.join(timeout=5)

    @property
    def dropped_points(self) -> int:
        """Metric points dropped so far: for room in the buffer, or refused by the gateway."""
        return self._buffer.dropped

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        self.finish(_status_of(error))

    def _at_exit(self) -> None:
        # An uncaught exception is printed, and kept as sys.last_value, before atexit runs.
        self.finish(_status_of(getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)))

    # on the caller's thread

    def _log_point(self, key: str, value: Any, step: int | None, moment: int) -> None:
        self._check_open()
        if key not in self._known_keys:
            _check_key(key, "metric")
            self._known_keys.add(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {key!r}: the value must be a number, got {value!r}") from None
        if self._buffer.add_point(key, number, 0 if step is None else int(step), moment):
            self._wake_sender()

    def _check_open(self) -> None:
        if self._ended:
            raise RuntimeError(f"run {self.id} has ended; start another run with lakecache.start_run(...)")

    @staticmethod
    def _checked_params(params: Mapping[str, Any]) -> dict[str, Any]:
        return {_check_key(key, "param"): _param_value(key, value) for key, value in params.items()}

    @staticmethod
    def _checked_tags(tags: Mapping[str, Any]) -> dict[str, str]:
        checked = {_check_key(key, "tag"): str(value) for key, value in tags.items()}
        for key, text in checked.items():
            if len(text) > TAG_VALUE_MAX:
                raise ValueError(f"tag {key!r}: at most {TAG_VALUE_MAX} characters, got {len(text)}")
        return checked

    def _call_soon(self, callback: Callable[[], Any]) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to tell it
                self._loop.call_soon_threadsafe(callback)

    def _wake_sender(self) -> None:
        self._call_soon(lambda: self._wake.set() if self._wake else None)

    def _call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``work`` on the run's event loop and wait for its result."""
        if self._loop is None or not self._thread.is_alive():
            work.close()
            raise RuntimeError(f"run {self.id} is no longer connected to the gateway")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    # on the run's own thread and event loop

    def _serve(self, project: str | None, start: dict[str, Any], start_timeout: float,
               started: concurrent.futures.Future[dict[str, Any]]) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(project, start, start_timeout, started))
        except BaseException as exc:  # noqa: BLE001 - handed to start_run's caller
            if not started.done():
                started.set_exception(exc)
        finally:
            loop.close()

    async def _main(self, project: str | None, start: dict[str, Any], start_timeout: float,
                    started: concurrent.futures.Future[dict[str, Any]]) -> None:
        self._loop, self._wake, self._closed = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
        async with GatewayClient(self.settings) as gateway:
            self._gateway = gateway

            async def begin() -> dict[str, Any]:
                me = await gateway.me()
                if me.get("kind") == "job":  # a job token acts for one run: log to it
                    if project is not None and project != me["project"]:
                        raise ValueError(f"the job token acts for run {me['run_id']} of project {me['project']!r}, "
                                         f"not project {project!r}")
                    return {"id": me["run_id"], "project": me["project"], "attached": True}
                chosen = project or self.settings.project
                experiment = await gateway.get_or_create_experiment(chosen, self.experiment)
                return await gateway.start_run(chosen, experiment["id"], **start)

            try:
                info = await self._retrying(begin, time.monotonic() + start_timeout)
            except BaseException as exc:
                started.set_exception(exc)
                return
            self._tasks.append(asyncio.create_task(self._send_forever(), name="lakecache-run-sender"))
            if self.sample_seconds > 0:
                self._tasks.append(asyncio.create_task(self._sample_forever(), name="lakecache-run-sampler"))
            started.set_result(info)
            await self._closed.wait()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send_forever(self) -> None:
        assert self._wake is not None
        while not self._stopping:  # a flag too: a cancel that meets a wake-up may be lost in 3.11
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_seconds):
                    await self._wake.wait()
            self._wake.clear()
            while (batch := self._buffer.take(self._max_points)) is not None:
                await self._deliver(batch)

    async def _deliver(self, batch: Batch) -> None:
        if not batch.call:
            self._batches += 1
            batch.key = f"{self._batch_prefix}-{self._batches}"
        self._buffer.settle(batch, dropped=await self._send(batch))

    async def _send(self, batch: Batch) -> int:
        """Send ``batch`` until it is accepted or refused, with the same key on every try; the
        number of its points dropped. A batch too large for the gateway (413) goes in halves."""
        assert self._gateway is not None
        attempt = 0
        while True:
            try:
                if batch.call:
                    await getattr(self._gateway, batch.call)(self.project, self.id, **batch.body)
                else:
                    await self._gateway.log_batch(
                        self.project, self.id, batch.key, params=batch.params, tags=batch.tags,
                        metrics=[metric_json(key, value, step, ms) for _, key, value, step, ms in batch.points])
            except GatewayError as exc:
                if exc.status == 413 and len(batch.points) > 1:
                    log.debug("run %s: batch %s is too large for the gateway; sending it in halves", self.id, batch.key)
                    first, second = _halves(batch)
                    self._max_points = min(self._max_points, len(first.points))
                    return await self._send(first) + await self._send(second)
                if not retryable(exc):
                    self._log_refusal(batch, exc)
                    return len(batch.points)
                delay = backoff_delay(attempt)
                (log.warning if attempt == 0 else log.debug)(
                    "run %s: %s; sending again in %.1f s (the training goes on)", self.id, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the run's sending
                log.exception("run %s: could not send a batch (%s); it is dropped", self.id, exc)
                return len(batch.points)
            if attempt:
                log.info("run %s: the gateway took the batch after %d tries", self.id, attempt + 1)
            return 0

    def _log_refusal(self, batch: Batch, error: GatewayError) -> None:
        what = (f"{batch.call.replace('_', ' ')}" if batch.call else
                f"batch {batch.key} ({len(batch.points)} points, {len(batch.params)} params, {len(batch.tags)} tags)")
        if error.status not in self._refusals_logged:
            self._refusals_logged.add(error.status)
            log.error("run %s: the gateway refused %s, which is dropped: %s (later refusals with status %s are "
                      "logged at debug level)", self.id, what, error, error.status)
        else:
            log.debug("run %s: the gateway refused %s: %s", self.id, what, error)

    async def _sample_forever(self) -> None:
        sampler, step = ResourceSampler(), 0
        try:
            while True:
                await asyncio.sleep(self.sample_seconds)
                moment = time.time_ns() // 1_000_000
                for key, value in sampler.sample().items():
                    if self._buffer.add_point(key, value, step, moment):
                        self._wake_sender()
                step += 1
        finally:
            sampler.close()

    def _stop_sampling(self) -> None:
        for task in self._tasks:
            if task.get_name() == "lakecache-run-sampler":
                task.cancel()

    async def _end(self, status: RunStatus, end_time: datetime, deadline: float) -> dict[str, Any] | None:
        self._stopping = True
        for task in self._tasks:  # the flush is over (or timed out): stop sending
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._gateway is not None
        gateway = self._gateway
        if self.attached:  # the run's starter ends it, with the job's exit status
            return None
        return await self._retrying(lambda: gateway.finish_run(self.project, self.id, status, end_time=end_time),
                                    deadline)

    async def _retrying(self, call: Callable[[], Awaitable[T]], deadline: float) -> T:
        """``call()``, again with backoff while it fails in a way that may pass, until ``deadline``."""
        attempt = 0
        while True:
            try:
                return await call()
            except GatewayError as exc:
                delay = backoff_delay(attempt)
                if not retryable(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning("%s; trying again in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)


def start_run(*, project: str | None = None, experiment: str = "Default", name: str | None = None,
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
              settings: ClientSettings | None = None, buffer_size: int = 100_000, flush_seconds: float = 1.0,
              finish_timeout: float = 60.0, sample_seconds: float = 10.0, start_timeout: float = 60.0) -> Run:
    """Start a run in ``project``'s experiment ``experiment`` (created when missing) and return it
    (see the module): ``project`` defaults to ``LAKECACHE_PROJECT``. Under a job token (``lakecache
    job run`` passes one) nothing is started: the returned run is the token's, ``experiment`` and
    ``name`` are ignored, ``params`` and ``tags`` are logged to it, and leaving the block flushes
    without ending it (``attached``): whoever issued the token ends the run.
    ``buffer_size`` metric points wait at most (the oldest are dropped beyond); batches go out
    every ``flush_seconds``; ``finish`` flushes for at most ``finish_timeout`` seconds; resources
    are sampled every ``sample_seconds`` (0: never). Raises ``GatewayError`` when the run cannot
    be started (the gateway unreachable for ``start_timeout`` seconds, no permission…)."""
    return Run(project=project, experiment=experiment, name=name, params=params, tags=tags, settings=settings,
               buffer_size=buffer_size, flush_seconds=flush_seconds, finish_timeout=finish_timeout,
               sample_seconds=sample_seconds, start_timeout=start_timeout)


def _status_of(error: BaseException | None) -> RunStatus:
    if error is None or (isinstance(error, SystemExit) and error.code in (0, None)):
        return "finished"
    return "killed" if isinstance(error, KeyboardInterrupt) else "failed"


def _check_key(key: Any, kind: str) -> str:
    if not is_key(key):
        raise ValueError(f"{kind} name {key!r} is not allowed: use {_KEY_RULE}")
    return key


def _halves(batch: Batch) -> tuple[Batch, Batch]:
    """Two batches of ``batch``'s points (params and tags with the first), keyed after it: a retry
    of a half has the same key as the half."""
    middle = len(batch.points) // 2
    return (Batch(batch.seq, f"{batch.key}.1", batch.points[:middle], batch.params, batch.tags),
            Batch(batch.seq, f"{batch.key}.2", batch.points[middle:]))


def _split(items: dict[str, Any], size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = list(items)
    return {k: items[k] for k in keys[:size]}, {k: items[k] for k in keys[size:]}


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
