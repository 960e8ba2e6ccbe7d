"""The one error a fill raises, with what the service needs to report and decide on a retry."""

from __future__ import annotations


class FillError(Exception):
    """A fill failed; nothing was published.

    ``reason`` is for people (what failed, which object or path, what to do); ``retryable``
    says whether running the same fill again may succeed (transient lake errors, a full
    volume once space is freed) or not (a hostile manifest, a missing or corrupt object);
    ``failed_paths`` lists the dataset paths or volume paths concerned (bounded);
    ``bytes_needed`` is set when the volume lacked the space the fill needs (so the caller can
    ask for that much to be freed).
    """

    def __init__(self, reason: str, *, retryable: bool, failed_paths: list[str] | None = None,
                 bytes_needed: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.failed_paths = list(failed_paths or [])
        self.bytes_needed = bytes_needed
