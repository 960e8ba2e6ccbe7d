"""One status per (site, project, commit): who asked for it, and each volume's copy as the
events tell. A copy is one project's: another project's request for the same commit is another
copy, with its own status.

Events arrive at least once and out of order (progress and lifecycle facts travel on different
topics), so each volume's entry keeps the time of the fact it reflects and only a newer fact
replaces it: a late progress event never turns a ready copy back into a filling one.

A volume's progress is the cacher's :class:`~lakecache.core.vocabulary.copies.FillProgress`,
field for field, whether it came from ``cache.fill.progress`` or from the cacher's answer about
a copy adopted on its first lookup (:meth:`CopyStatusView.seed`).

The copy's overall state is computed when read (:func:`overall_state`), from the volumes and
the latest request, so writers never have to agree on it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now
from lakecache.core.vocabulary.copies import ACTIVE_STATES, SETTLED_STATES, FillProgress
from lakecache.gateway.repositories.copy_status import CopyStatusRepository, status_id
from lakecache.gateway.repositories.pages import Page

__all__ = ["COPY_STATUS_KEY", "PROGRESS_FIELDS", "TERMINAL", "CopyStatusView", "copy_status_of", "overall_state",
           "progress_fields", "ready_fields", "status_id"]

#: A copy in these states changes no more until someone asks again: live progress ends there.
TERMINAL = frozenset(SETTLED_STATES)
PROGRESS_FIELDS: tuple[str, ...] = tuple(FillProgress.model_fields)


def progress_fields(progress: FillProgress | None) -> dict[str, Any]:
    """A volume entry's progress: the fill's, or none (every field null) when no fill runs."""
    return progress.model_dump() if progress is not None else dict.fromkeys(PROGRESS_FIELDS)


def ready_fields(files: int | None, size_bytes: int | None) -> dict[str, Any]:
    """The progress of a ready copy: every file and byte of the commit there, nothing running."""
    return {**progress_fields(None), "phase": "done", "files_done": files, "files_total": files,
            "bytes_done": size_bytes, "bytes_total": size_bytes}


def overall_state(doc: Mapping[str, Any]) -> str:
    """``ready`` if any volume holds it ready; else the state of the newest fact (a request
    newer than every volume's fact is ``requested``)."""
    volumes = doc.get("volumes") or {}
    if any(v.get("state") == "ready" for v in volumes.values()):
        return "ready"
    newest = max(volumes.values(), key=lambda v: v["at"], default=None)
    failure = doc.get("failure")
    if failure and (newest is None or failure["at"] >= newest["at"]):
        newest = {"state": "failed", "at": failure["at"]}
    requested_at = doc.get("requested_at")
    if requested_at is not None and (newest is None or requested_at > newest["at"]):
        return "requested"
    return newest["state"] if newest else "requested"


class StatusChanges:
    """Wakes the live-progress streams of one copy when this process applied a change."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, key: str) -> None:
        for event in self._waiting.get(key, ()):
            event.set()

    def subscribe(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting[key].add(event)
        return event

    def unsubscribe(self, key: str, event: asyncio.Event) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del self._waiting[key]


class CopyStatusView:
    """The read model: its writers (events, requests, adoption), its readers, and the streams
    waiting for its changes."""

    def __init__(self, statuses: CopyStatusRepository) -> None:
        self.statuses = statuses
        self.changes = StatusChanges()

    @classmethod
    def open(cls, store: DocumentStore, outbox: Outbox) -> CopyStatusView:
        """Bind to ``store`` (no I/O); cache requests are announced through ``outbox``."""
        return cls(CopyStatusRepository(store, outbox))

    async def create_indexes(self) -> None:
        await self.statuses.create_indexes()

    async def drop_old_layout(self) -> int:
        """Delete documents kept one per (site, commit), before copies were per project: nothing
        reads them any more, and they would list a copy twice. A read model loses nothing: a copy
        is adopted again from its cacher on its first lookup."""
        return await self.statuses.drop_old_layout()

    async def get(self, site: str, project: str, commit_id: str) -> dict[str, Any] | None:
        return await self.statuses.get(site, project, commit_id)

    async def page(self, project: str, *, site: str | None, limit: int, cursor: str | None) -> Page:
        """A page of the project's copies, most recently changed first."""
        return await self.statuses.page(project, site=site, limit=limit, cursor=cursor)

    async def of_commits(self, project: str, commit_ids: list[str], *, limit: int) -> list[dict[str, Any]]:
        """The project's copies of these commits, at every site (at most ``limit``)."""
        return await self.statuses.of_commits(project, commit_ids, limit=limit)

    def _changed(self, site: str, project: str, commit_id: str, changed: bool = True) -> None:
        if changed:
            self.changes.notify(status_id(site, project, commit_id))

    async def record_request(self, command: CacheRequested, at: datetime | None = None) -> None:
        """Record a cache request the gateway accepted and send the cacher ``command`` with it."""
        site, project, commit_id = command.site, command.project, command.commit_id
        await self.statuses.add(site, project, commit_id, {})
        changed = await self.statuses.note_request(command, at=at or now())
        self._changed(site, project, commit_id, changed)

    async def apply_volume_fact(self, *, site: str, project: str, commit_id: str, volume: str, at: datetime,
                                fields: Mapping[str, Any]) -> None:
        """Set volume ``volume``'s entry to ``fields`` unless it already reflects a newer fact.

        Facts only update copies this model already has (requested through the gateway, or
        adopted from the cacher by :meth:`seed`): a fact about a copy nobody asked the gateway
        for leaves no trace until someone looks it up."""
        changed = await self.statuses.set_volume(site, project, commit_id, volume, at=at, fields=fields)
        self._changed(site, project, commit_id, changed)

    async def set_pinned(self, *, site: str, project: str, commit_id: str, volume: str, pinned: bool,
                         at: datetime) -> None:
        changed = await self.statuses.set_pinned(site, project, commit_id, volume, pinned=pinned, at=at)
        self._changed(site, project, commit_id, changed)

    async def record_failure(self, *, site: str, project: str, commit_id: str, reason: str, retryable: bool,
                             at: datetime) -> None:
        """A refusal before any volume was chosen (unknown volume, a forged source)."""
        changed = await self.statuses.set_failure(site, project, commit_id, reason=reason, retryable=retryable,
                                                  at=at)
        self._changed(site, project, commit_id, changed)

    async def seed(self, copy: Mapping[str, Any]) -> dict[str, Any] | None:
        """Adopt a copy the cacher knows and this model does not (made before the gateway ran,
        or requested without it): its ``public_copy`` JSON becomes the volume's entry, the fill's
        progress as the cacher answered it."""
        site, project, commit_id = copy["site"], copy["project"], copy["commit_id"]
        await self.statuses.add(site, project, commit_id, {"dataset_id": copy["dataset_id"],
                                                           "dataset": copy["dataset"]})
        await self.apply_volume_fact(site=site, project=project, commit_id=commit_id, volume=copy["volume"],
                                     at=_parse_time(copy.get("updated_at")) or now(), fields=_adopted(copy))
        return await self.get(site, project, commit_id)


def _adopted(copy: Mapping[str, Any]) -> dict[str, Any]:
    """A volume entry from the cacher's copy JSON, as the events of its state would have made it."""
    error = copy.get("error")
    fields = {"state": copy["state"], "path": copy.get("path"), "pinned": bool(copy.get("pinned")),
              "error": error.get("reason") if isinstance(error, dict) else error}
    if isinstance(error, dict) and "retryable" in error:
        fields["retryable"] = error["retryable"]
    if copy["state"] in ACTIVE_STATES and copy.get("progress") is not None:
        fields.update(progress_fields(FillProgress.model_validate(copy["progress"])))
    elif copy["state"] == "ready":
        fields.update(ready_fields(copy.get("files"), copy.get("size_bytes")))
    return fields


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


COPY_STATUS_KEY = web.AppKey("lakecache_copy_status", CopyStatusView)


def copy_status_of(request: web.Request) -> CopyStatusView:
    return request.app[COPY_STATUS_KEY]
