"""A cached copy's states, and one model of a fill's progress from the cacher to the CLI.

    requested ──> filling ──> ready ──> evicting ──> evicted
        │            │
        └────────────┴──> failed        (failed and evicted go back to requested on a new request)

The cacher records a fill's progress as a :class:`FillProgress`, announces it with the same
fields (``cache.fill.progress``), the gateway keeps them in its read model, and the CLI draws
them: one set of names from the fill to the screen.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

CopyState = Literal["requested", "filling", "ready", "failed", "evicting", "evicted"]
COPY_STATES: tuple[str, ...] = get_args(CopyState)
#: A fill is running or about to.
ACTIVE_STATES: tuple[str, ...] = ("requested", "filling")
#: Nothing happens to the copy until someone asks again.
SETTLED_STATES: tuple[str, ...] = ("ready", "failed", "evicted")

FillPhase = Literal["planning", "fetching", "linking", "done"]


class FillProgress(BaseModel):
    """How far one fill is: ``files_done`` counts files whose content is on the volume (in the
    pool before the fill, or fetched by it), ``objects_*`` and ``bytes_*`` what it fetches."""

    model_config = ConfigDict(frozen=True)

    phase: FillPhase = Field("planning", description="What the fill is doing.")
    files_done: int = Field(0, ge=0, description="Files of the commit whose content is on the volume.")
    files_total: int = Field(0, ge=0, description="Files in the commit.")
    objects_done: int = Field(0, ge=0, description="Objects fetched so far.")
    objects_total: int = Field(0, ge=0, description="Objects to fetch (content not already on the volume).")
    bytes_done: int = Field(0, ge=0, description="Bytes fetched so far.")
    bytes_total: int = Field(0, ge=0, description="Bytes to fetch.")
    rate_bytes_per_s: float = Field(0.0, ge=0, description="Bytes fetched per second so far.")
    eta_seconds: float | None = Field(None, description="Seconds left, estimated; null while unknown.")
