"""Named tags on commits: set once, moved only on request (``force``)."""

from __future__ import annotations

from typing import Any

from lakecache.catalog.commits import resolve
from lakecache.catalog.domain import TagExists, check_tag_name, now
from lakecache.catalog.storage import Catalog
from lakecache.core.contracts import Event, EventData
from lakecache.core.contracts.catalog import TagMoved
from lakecache.core.errors import Conflict
from lakecache.core.outbox import PENDING_FIELD


async def list_tags(catalog: Catalog, dataset: dict[str, Any]) -> list[dict[str, Any]]:
    return await catalog.tags.find_list({"dataset_id": dataset["_id"]}, sort=[("name", 1)])


async def set_tag(
    catalog: Catalog, dataset: dict[str, Any], name: str, ref: str, *, force: bool, user: str
) -> tuple[dict[str, Any], bool]:
    """Point tag ``name`` at ``ref``'s commit; returns (tag, created)."""
    check_tag_name(name)
    target = (await resolve(catalog, dataset, ref))["id"]
    label = f"{dataset['project']}/{dataset['name']}@{name}"
    tag_id = f"{dataset['_id']}/{name}"
    existing = await catalog.tags.find_one({"_id": tag_id})
    if existing is None:
        event = await _prepare(catalog, dataset, name, target, None, user)
        doc = {"_id": tag_id, "dataset_id": dataset["_id"], "name": name, "commit_id": target,
               "updated_at": now(), "moved_by": user, PENDING_FIELD: [event.id]}
        try:
            await catalog.tags.insert_one(doc)
        except Conflict:
            await catalog.outbox.discard(event)
            existing = await catalog.tags.find_one({"_id": tag_id})
        else:
            await catalog.outbox.deliver(event, collection="tags", doc_id=tag_id)
            return doc, True
    if existing is None:  # inserted and deleted by someone else meanwhile: report, do not guess
        raise TagExists(f"tag {label} changed while it was being set; try again")
    if existing["commit_id"] == target:
        return existing, False
    if not force:
        raise TagExists(
            f"tag {label} already points at {existing['commit_id'][:12]}, not {target[:12]}; tags move only "
            "on request: repeat with force: true to move it"
        )
    # Compare-and-swap on the old target: of two concurrent moves, the later one sees a conflict.
    event = await _prepare(catalog, dataset, name, target, existing["commit_id"], user)
    moved = await catalog.tags.find_one_and_update(
        {"_id": tag_id, "commit_id": existing["commit_id"]},
        {"$set": {"commit_id": target, "updated_at": now(), "moved_by": user}, "$addToSet": {PENDING_FIELD: event.id}},
    )
    if moved is None:
        await catalog.outbox.discard(event)
        raise TagExists(f"tag {label} was moved by someone else meanwhile; check it and try again")
    await catalog.outbox.deliver(event, collection="tags", doc_id=tag_id)
    return moved, False


async def _prepare(catalog: Catalog, dataset: dict[str, Any], name: str, target: str,
                   previous: str | None, user: str) -> Event[EventData]:
    return await catalog.outbox.prepare(TagMoved(
        dataset_id=dataset["_id"], project=dataset["project"], dataset=dataset["name"], tag=name,
        commit_id=target, previous_commit_id=previous, moved_by=user,
    ), collection="tags")
