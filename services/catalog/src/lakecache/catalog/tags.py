"""Named tags on commits: set once, moved only on request (``force``)."""

from __future__ import annotations

from typing import Any

from lakecache.catalog.commits import resolve
from lakecache.catalog.domain import TagExists, check_tag_name
from lakecache.catalog.storage import Catalog
from lakecache.core.contracts.catalog import TagMoved


async def list_tags(catalog: Catalog, dataset: dict[str, Any]) -> list[dict[str, Any]]:
    return await catalog.tags.of_dataset(dataset["_id"])


async def set_tag(
    catalog: Catalog, dataset: dict[str, Any], name: str, ref: str, *, force: bool, user: str
) -> tuple[dict[str, Any], bool]:
    """Point tag ``name`` at ``ref``'s commit; returns (tag, created)."""
    check_tag_name(name)
    target = (await resolve(catalog, dataset, ref))["id"]
    label = f"{dataset['project']}/{dataset['name']}@{name}"
    existing = await catalog.tags.by_name(dataset["_id"], name)
    if existing is None:
        created = await catalog.tags.add(dataset["_id"], name, target, user,
                                         _moved(dataset, name, target, None, user))
        if created is not None:
            return created, True
        existing = await catalog.tags.by_name(dataset["_id"], name)  # set by someone else meanwhile
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
    moved = await catalog.tags.move(existing, target, user,
                                    _moved(dataset, name, target, existing["commit_id"], user))
    if moved is None:
        raise TagExists(f"tag {label} was moved by someone else meanwhile; check it and try again")
    return moved, False


def _moved(dataset: dict[str, Any], name: str, target: str, previous: str | None, user: str) -> TagMoved:
    return TagMoved(dataset_id=dataset["_id"], project=dataset["project"], dataset=dataset["name"], tag=name,
                    commit_id=target, previous_commit_id=previous, moved_by=user)
