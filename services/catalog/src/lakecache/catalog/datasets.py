"""Datasets: create, list, show, update, and the guarded soft delete."""

from __future__ import annotations

import uuid
from typing import Any

from lakecache.catalog import copies, locations
from lakecache.catalog.domain import (
    DatasetInUse,
    check_description,
    check_labels,
    check_slug,
    dataset_not_found,
    decode_cursor,
    encode_cursor,
)
from lakecache.catalog.storage import Catalog
from lakecache.core.contracts.catalog import DatasetCreated, DatasetDeleted
from lakecache.core.errors import Conflict, InvalidArgument, NotFound


def _taken(project: str, name: str) -> Conflict:
    return Conflict(f"dataset {project}/{name} already exists; pick another name, or change it with "
                    f"PATCH /api/v1/datasets/{project}/{name}")


async def create_dataset(catalog: Catalog, body: dict[str, Any], owner: str) -> dict[str, Any]:
    project = check_slug("project", body.get("project"))
    name = check_slug("dataset name", body.get("name"))
    lake_url, prefix = locations.dataset_location(catalog, project, name, body.get("lake_url"))
    if await catalog.datasets.live(project, name) is not None:
        raise _taken(project, name)
    await locations.check_dataset_location(catalog, project, name, lake_url)
    dataset_id = uuid.uuid4().hex
    description = check_description(body.get("description", ""))
    labels = check_labels(body.get("tags", []))
    doc = await catalog.datasets.add(
        dataset_id=dataset_id, project=project, name=name, description=description, tags=labels, owner=owner,
        lake_url=lake_url, lake_prefix=prefix,
        event=DatasetCreated(dataset_id=dataset_id, project=project, name=name, owner=owner, lake_url=lake_url,
                             description=description, tags=labels),
    )
    if doc is None:  # created by someone else since the check above
        raise _taken(project, name)
    return doc


async def get_dataset(catalog: Catalog, project: str, name: str) -> dict[str, Any]:
    doc = await catalog.datasets.live(project, name)
    if doc is None:
        raise dataset_not_found(project, name)
    return doc


async def get_dataset_by_id(catalog: Catalog, dataset_id: str) -> dict[str, Any]:
    """A dataset by id, deleted or not: lineage keeps pointing at deleted datasets' commits."""
    doc = await catalog.datasets.by_id(dataset_id)
    if doc is None:
        raise NotFound(f"no dataset has id {dataset_id!r}; ids appear in events and run lineage")
    return doc


def _matches(doc: dict[str, Any], text: str) -> bool:
    haystack = " ".join([doc["project"], doc["name"], doc.get("description", ""), *doc.get("tags", [])])
    return text in haystack.lower()


async def list_datasets(
    catalog: Catalog, *, project: str | None, tag: str | None, q: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    after: str | None = None
    if cursor:
        last = decode_cursor(cursor)
        if not isinstance(last, str):
            raise InvalidArgument("cursor is not one this API returned; repeat the request without a cursor")
        after = last
    found: list[dict[str, Any]] = []
    if q:
        # The document-store subset has no text search; a substring filter over the pages
        # in name order keeps cursors exact. Fine for catalogs of thousands of datasets.
        text = q.lower()
        async for doc in catalog.datasets.live_in_order(project=project, tag=tag, after=after):
            if _matches(doc, text):
                found.append(doc)
                if len(found) > limit:
                    break
    else:
        found = await catalog.datasets.live_page(project=project, tag=tag, after=after, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_cursor(f"{page[-1]['project']}/{page[-1]['name']}") if len(found) > limit else None
    return page, next_cursor


async def update_dataset(catalog: Catalog, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"description", "tags"}
    if unknown:
        raise InvalidArgument(f"cannot change {sorted(unknown)}: only 'description' and 'tags' can be updated")
    description = check_description(body["description"]) if "description" in body else None
    labels = check_labels(body["tags"]) if "tags" in body else None
    doc = await catalog.datasets.describe(project, name, description=description, tags=labels)
    if doc is None:
        raise dataset_not_found(project, name)
    return doc


async def delete_dataset(catalog: Catalog, project: str, name: str, user: str) -> None:
    doc = await get_dataset(catalog, project, name)
    held = await copies.usage(catalog, doc["_id"])
    if held.copies or held.leases:
        raise DatasetInUse(
            f"dataset {project}/{name} is in use: {held.describe()}. Wait for running jobs to release "
            "their leases and evict the cached copies, then delete again."
        )
    # Soft delete: the name is freed for a new dataset, while commits and manifests stay for
    # the lineage of runs that read them.
    event = DatasetDeleted(dataset_id=doc["_id"], project=project, name=name, deleted_by=user)
    if not await catalog.datasets.mark_deleted(doc, user, event):
        raise dataset_not_found(project, name)
