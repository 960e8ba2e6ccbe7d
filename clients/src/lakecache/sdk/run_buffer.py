"""What a tracked run has logged and not yet sent: a bounded, thread-safe queue with the
overflow policy of ``lakecache.sdk.tracking`` (the oldest metric points dropped first and
counted), batched as the gateway accepts them, and the retry policy of a send."""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecache.core.vocabulary.runs import MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH
from lakecache.sdk.errors import GatewayError, GatewayUnavailable

log = logging.getLogger("lakecache.sdk.tracking")

#: The tag a finished run reports its dropped metric points in (when it dropped any).
DROPPED_TAG = "lakecache.dropped_points"
#: First pause before a failed send is tried again; it doubles up to ``RETRY_MAX_SECONDS``.
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0

Point = tuple[int, str, float, int, int]  # sequence number, key, value, step, epoch milliseconds


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` of a failed send: 0.5 s doubling to 30 s, ±20 %."""
    base = min(RETRY_MAX_SECONDS, RETRY_INITIAL_SECONDS * 2 ** min(attempt, 32))
    return base * random.uniform(0.8, 1.2)


def retryable(error: GatewayError) -> bool:
    """Whether sending again may succeed: no answer, a timeout, a 5xx, 408 or 429."""
    return isinstance(error, GatewayUnavailable) or error.status in (408, 429)


@dataclass
class Batch:
    """What one request sends: points, params and tags to ``/log``, or one record (``call``: the
    ``RunCalls`` method, with ``body``). ``seq`` is its oldest item's sequence number."""

    seq: int
    key: str = ""
    points: list[Point] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    call: str = ""
    body: dict[str, Any] = field(default_factory=dict)


class RunBuffer:
    """Thread-safe queue of what a run logged, by sequence number, with the overflow policy of the
    module: at most ``capacity`` metric points, the oldest dropped first and counted."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"buffer_size must be at least 1 metric point, got {capacity}")
        self.capacity = capacity
        #: Metric points dropped: for room, or in a batch the gateway refused.
        self.dropped = 0
        self._changed = threading.Condition(threading.Lock())
        self._points: deque[Point] = deque()
        self._params: deque[tuple[int, str, Any]] = deque()
        self._tags: deque[tuple[int, str, str]] = deque()
        self._records: deque[tuple[int, str, dict[str, Any]]] = deque()
        self._seq = 0
        self._in_flight: int | None = None
        self._overflowing = False

    def add_point(self, key: str, value: float, step: int, timestamp_ms: int) -> bool:
        """Queue a point; ``True`` when a full batch of points now waits."""
        with self._changed:
            if len(self._points) >= self.capacity:
                self._points.popleft()
                self.dropped += 1
                if not self._overflowing:
                    self._overflowing = True
                    log.warning("the run's buffer of %d metric points is full (the gateway is unreachable or slower "
                                "than the training): dropping the oldest points until it drains; the count is "
                                "reported as tag %s", self.capacity, DROPPED_TAG)
                self._changed.notify_all()  # the dropped point was perhaps all a flush waited for
            self._seq += 1
            self._points.append((self._seq, key, value, step, timestamp_ms))
            return len(self._points) == MAX_METRICS_PER_BATCH

    def add_params(self, params: Mapping[str, Any]) -> None:
        with self._changed:
            for key, value in params.items():
                self._seq += 1
                self._params.append((self._seq, key, value))

    def add_tags(self, tags: Mapping[str, str]) -> None:
        with self._changed:
            for key, value in tags.items():
                self._seq += 1
                self._tags.append((self._seq, key, value))

    def add_record(self, call: str, body: dict[str, Any]) -> None:
        with self._changed:
            self._seq += 1
            self._records.append((self._seq, call, body))

    def mark(self) -> int:
        """The sequence number of the last item queued so far."""
        with self._changed:
            return self._seq

    def pending(self) -> int:
        """Items queued and not yet sent (nor dropped), the batch being sent included."""
        with self._changed:
            return (len(self._points) + len(self._params) + len(self._tags) + len(self._records)
                    + (self._in_flight is not None))

    def take(self, max_points: int = MAX_METRICS_PER_BATCH) -> Batch | None:
        """The next batch to send (oldest items first, at most ``max_points`` points), or ``None``
        when nothing waits. One batch is in flight at a time: ``settle`` it before the next."""
        with self._changed:
            heads = [queue[0][0] for queue in (self._points, self._params, self._tags) if queue]
            if self._records and (not heads or self._records[0][0] < min(heads)):
                seq, call, body = self._records.popleft()
                batch = Batch(seq, call=call, body=body)
            elif heads:
                batch = Batch(min(heads))
                for _ in range(min(len(self._points), max_points)):
                    batch.points.append(self._points.popleft())
                for _ in range(min(len(self._params), MAX_PARAMS_PER_BATCH)):
                    _, key, value = self._params.popleft()
                    batch.params[key] = value
                for _ in range(min(len(self._tags), MAX_TAGS_PER_BATCH)):
                    _, key, text = self._tags.popleft()
                    batch.tags[key] = text
            else:
                return None
            if self._overflowing and len(self._points) <= self.capacity // 2:
                self._overflowing = False
            self._in_flight = batch.seq
            return batch

    def settle(self, batch: Batch, *, dropped: int = 0) -> None:
        """The batch was sent, ``dropped`` of its points refused (they count as dropped)."""
        with self._changed:
            self._in_flight = None
            self.dropped += dropped
            self._changed.notify_all()

    def wait_sent(self, mark: int, timeout: float | None) -> bool:
        """Wait until every item up to ``mark`` was sent or dropped; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._oldest_unsettled() > mark, timeout)

    def _oldest_unsettled(self) -> float:
        heads = [queue[0][0] for queue in (self._points, self._params, self._tags, self._records) if queue]
        if self._in_flight is not None:
            heads.append(self._in_flight)
        return min(heads, default=math.inf)
