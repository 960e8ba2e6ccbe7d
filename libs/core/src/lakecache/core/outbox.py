"""Events that are never lost between a state change and the bus (a transactional outbox
for stores without multi-document transactions).

The document store offers atomic writes of one document only, so an event cannot be stored
in the same transaction as the change it announces. Instead:

1. ``prepare`` stores the event in the ``outbox`` collection and returns its id;
2. the caller's own state write adds that id to the changed document's ``pending_events``
   (one atomic single-document write: the change and the claim happen together);
3. ``deliver`` publishes the event, then removes the id and the outbox record.

If the process stops after 1 but before 2, the change did not happen and the relay drops the
record; after 2 but before 3, the relay finds the id on the document and publishes. Events may
thus be published twice (consumers are idempotent, the event id is stable) but never lost and
never announced for a change that did not happen.

Repositories write a change and its events in one call — :meth:`Outbox.insert` and
:meth:`Outbox.update`, the unit of work — instead of repeating the three steps by hand (where
forgetting one silently loses an event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecache.core.contracts import EVENTS, Event, EventData, new_event
from lakecache.core.errors import LakeCacheError
from lakecache.core.ports.docstore import Document, DocumentStore, Filter, Update
from lakecache.core.publishing import EventPublisher

log = logging.getLogger(__name__)

PENDING_FIELD = "pending_events"
#: An event to announce with a change: its payload, or (payload, CloudEvents subject).
Announcement = EventData | tuple[EventData, str | None]


class Outbox:
    """One service's outbox: ``prepare`` → (caller's write) → ``deliver``; ``run`` relays leftovers."""

    def __init__(self, store: DocumentStore, publisher: EventPublisher, *,
                 grace: timedelta = timedelta(seconds=30), collection: str = "outbox") -> None:
        self._store = store
        self._records = store.collection(collection)
        self._publisher = publisher
        self._grace = grace

    async def insert(self, collection: str, doc: Mapping[str, Any], events: Sequence[Announcement] = ()) -> None:
        """Insert ``doc`` into ``collection`` and announce ``events`` (payloads, or (payload,
        subject) pairs) with it: all or nothing. The store's ``Conflict`` (duplicate ``_id`` or a
        unique index) propagates, and the events are then dropped unpublished."""
        prepared = await self._prepare_all(events, collection)
        try:
            await self._store.collection(collection).insert_one({**doc, PENDING_FIELD: [e.id for e in prepared]})
        except BaseException:
            for event in prepared:
                await self.discard(event)
            raise
        await self._deliver_all(prepared, collection, doc["_id"])

    async def update(self, collection: str, filter: Filter, update: Update,
                     events: Sequence[Announcement] = ()) -> Document | None:
        """Apply ``update`` to the document of ``collection`` matching ``filter`` and announce
        ``events`` with it, in one single-document write. Returns the new document, or None when
        nothing matched (a compare-and-swap lost): nothing changed and nothing is published."""
        prepared = await self._prepare_all(events, collection)
        change = dict(update)
        if prepared:
            change["$addToSet"] = {**change.get("$addToSet", {}), PENDING_FIELD: {"$each": [e.id for e in prepared]}}
        try:
            new = await self._store.collection(collection).find_one_and_update(filter, change)
        except BaseException:
            for event in prepared:
                await self.discard(event)
            raise
        if new is None:
            for event in prepared:
                await self.discard(event)
            return None
        await self._deliver_all(prepared, collection, new["_id"])
        return new

    async def _prepare_all(self, events: Sequence[Announcement], collection: str) -> list[Event[EventData]]:
        prepared = []
        for item in events:
            data, subject = item if isinstance(item, tuple) else (item, None)
            prepared.append(await self.prepare(data, collection=collection, subject=subject))
        return prepared

    async def _deliver_all(self, events: list[Event[EventData]], collection: str, doc_id: str) -> None:
        for event in events:
            await self.deliver(event, collection=collection, doc_id=doc_id)

    async def prepare(self, data: EventData, *, collection: str, subject: str | None = None) -> Event[EventData]:
        """Record an event about a document of ``collection``; add ``event.id`` to that
        document's ``pending_events`` in the same write that makes the change."""
        event = new_event(data, service=self._publisher.service, subject=subject)
        await self._records.insert_one({
            "_id": event.id, "collection": collection, "type": event.type, "version": event.version,
            "source": event.source, "time": event.time, "subject": event.subject,
            "data": event.data.model_dump(mode="json"), "prepared_at": datetime.now(UTC),
        })
        return event

    async def deliver(self, event: Event[EventData], *, collection: str, doc_id: str) -> None:
        """Publish an event whose change was written; on failure the relay retries later."""
        try:
            await self._publisher.publish(event)
        except LakeCacheError as exc:
            log.warning("event %s (%s) not published yet, the outbox relay will retry: %s", event.id, event.type, exc)
            return
        await self._settle(event.id, collection, doc_id)

    async def discard(self, event: Event[EventData]) -> None:
        """Drop a prepared event whose change was not made (e.g. a lost compare-and-swap)."""
        await self._records.delete_one({"_id": event.id})

    async def _settle(self, event_id: str, collection: str, doc_id: str) -> None:
        await self._store.collection(collection).update_one({"_id": doc_id}, {"$pull": {PENDING_FIELD: event_id}})
        await self._records.delete_one({"_id": event_id})

    async def relay_once(self, *, now: datetime | None = None) -> int:
        """Publish or drop every record older than the grace period; returns how many were published."""
        cutoff = (now or datetime.now(UTC)) - self._grace
        published = 0
        async for record in self._records.find({"prepared_at": {"$lt": cutoff}}, sort=[("prepared_at", 1)]):
            owner = await self._store.collection(record["collection"]).find_one({PENDING_FIELD: record["_id"]})
            if owner is None:  # the change never happened
                await self._records.delete_one({"_id": record["_id"]})
                continue
            event = _rebuild(record)
            try:
                await self._publisher.publish(event)
            except LakeCacheError as exc:
                log.warning("outbox relay: %s still not published: %s", record["_id"], exc)
                return published
            await self._settle(event.id, record["collection"], owner["_id"])
            published += 1
        return published

    async def run(self, interval: float = 10.0) -> None:
        """Background relay (a ``ServiceParts.background`` job)."""
        while True:
            try:
                count = await self.relay_once()
                if count:
                    log.info("outbox relay published %d delayed event(s)", count)
            except LakeCacheError as exc:
                log.warning("outbox relay failed, retrying in %.0fs: %s", interval, exc)
            await asyncio.sleep(interval)


def _rebuild(record: dict[str, Any]) -> Event[EventData]:
    data = EVENTS.parse(record["type"], record["version"], record["data"])
    return Event(data=data, source=record["source"], id=record["_id"], time=record["time"], subject=record["subject"])
