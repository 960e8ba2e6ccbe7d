"""Reading commits: resolve a ref, walk the log, list a commit's paths, diff two commits.

Refs: ``latest`` (the head), a tag, or a commit id / unique prefix of at least 4 hex digits.
Tag names that look like hex are refused when tags are made, so a ref means one thing.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from lakecache.catalog.domain import (
    COMMIT_ID,
    LATEST,
    AmbiguousRef,
    check_ref,
    decode_cursor,
    encode_cursor,
    looks_like_commit_prefix,
)
from lakecache.catalog.integrity import manifest_entries
from lakecache.catalog.storage import Catalog
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.manifest import diff_manifests
from lakecache.core.paths import normalize, sort_key

_CANDIDATES = 10


async def commit_by_id(catalog: Catalog, dataset: dict[str, Any], commit_id: str) -> dict[str, Any] | None:
    """The commit ``commit_id`` (a full id) of ``dataset``, if it has one."""
    return await catalog.commits.by_id(dataset["_id"], commit_id)


async def resolve(catalog: Catalog, dataset: dict[str, Any], ref: str) -> dict[str, Any]:
    """The commit document ``ref`` names in ``dataset``."""
    check_ref(ref)
    label = f"{dataset['project']}/{dataset['name']}@{ref}"
    if ref == LATEST:
        if dataset.get("head") is None:
            raise NotFound(f"{label}: the dataset has no commits yet; sync or import data first")
        ref = dataset["head"]
    if looks_like_commit_prefix(ref):
        if COMMIT_ID.match(ref):
            found = await commit_by_id(catalog, dataset, ref)
            if found is None:
                raise NotFound(f"{label}: no such commit in this dataset; see its log for valid ids")
            return found
        matches = await catalog.commits.with_prefix(dataset["_id"], ref, limit=_CANDIDATES + 1)
        if not matches:
            raise NotFound(f"{label}: no commit id starts with {ref!r}; see the dataset's log")
        if len(matches) > 1:
            candidates = [m["id"] for m in matches[:_CANDIDATES]]
            more = " (and more)" if len(matches) > _CANDIDATES else ""
            raise AmbiguousRef(
                f"{label}: {ref!r} matches several commits{more}: {', '.join(c[:16] for c in candidates)}; "
                "give more digits",
                candidates,
            )
        return matches[0]
    tag = await catalog.tags.by_name(dataset["_id"], ref)
    if tag is None:
        raise NotFound(f"{label}: no tag {ref!r}; list tags with GET …/tags, or use 'latest' or a commit id")
    found = await commit_by_id(catalog, dataset, tag["commit_id"])
    if found is None:  # a tag is only ever set to an existing commit
        raise NotFound(f"{label}: tag points at missing commit {tag['commit_id']}")
    return found


async def log(
    catalog: Catalog, dataset: dict[str, Any], ref: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """First-parent history from ``ref``, newest first; the cursor names the next commit."""
    if cursor:
        start = decode_cursor(cursor)
        if not isinstance(start, str) or not COMMIT_ID.match(start):
            raise InvalidArgument("cursor is not one this API returned; repeat the request without a cursor")
        current = await commit_by_id(catalog, dataset, start)
    else:
        current = await resolve(catalog, dataset, ref)
    items: list[dict[str, Any]] = []
    while current is not None and len(items) < limit:
        items.append(current)
        parents = current["parents"]
        current = await commit_by_id(catalog, dataset, parents[0]) if parents else None
    next_cursor = encode_cursor(current["id"]) if current is not None else None
    return items, next_cursor


async def entries(
    catalog: Catalog, commit: dict[str, Any], *, prefix: str, start_after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the commit's entries under ``prefix`` (a plain string prefix of the path).

    Entries are in ``sort_key`` order, where a string prefix is also a key prefix, so the
    matching entries are contiguous and the scan stops right after them.
    """
    page, _, next_cursor = await listing(catalog, commit, prefix=prefix, start_after=start_after, limit=limit,
                                         directories=False)
    return page, next_cursor


async def listing(
    catalog: Catalog, commit: dict[str, Any], *, prefix: str, start_after: str | None, limit: int,
    directories: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """A page of the entries under ``prefix`` and, with ``directories``, of the directories
    directly under it instead of what they hold: ``(entries, directories, next_cursor)``.

    A directory is ``{"path": "<prefix>…/", "files": n, "bytes": b}`` counting everything under
    it; ``limit`` counts entries and directories together, and the cursor is the last path
    listed (a directory's, with its ``/``: the next page starts after all it holds). In
    ``sort_key`` order a directory's entries follow each other, so one pass sums each.
    """
    prefix = normalize(prefix)
    wanted = sort_key(prefix)
    after = sort_key(start_after) if start_after else None
    # After a directory, skip what it holds, which sorts after its own key.
    skipped_tree = after if directories and start_after and start_after.endswith("/") else None
    page: list[dict[str, Any]] = []
    folders: list[dict[str, Any]] = []
    last: str | None = None
    more = False
    # Closed at once when the page is full, so the lake read is released now, not at collection.
    async with aclosing(manifest_entries(catalog, commit)) as stream:
        async for entry in stream:
            key = sort_key(entry.path)
            if after is not None and (key <= after or (skipped_tree is not None and key.startswith(skipped_tree))):
                continue
            if not key.startswith(wanted):
                if key > wanted:
                    break
                continue
            cut = entry.path.find("/", len(prefix)) if directories else -1
            if cut >= 0:
                folder = entry.path[:cut + 1]
                if folders and folders[-1]["path"] == folder:
                    folders[-1]["files"] += 1
                    folders[-1]["bytes"] += entry.size
                    continue
                if len(page) + len(folders) == limit:
                    more = True
                    break
                folders.append({"path": folder, "files": 1, "bytes": entry.size})
                last = folder
                continue
            if len(page) + len(folders) == limit:
                more = True
                break
            page.append(entry.model_dump(exclude_none=True))
            last = entry.path
    return page, folders, (last if more else None)


async def diff(
    catalog: Catalog, old: dict[str, Any], new: dict[str, Any], *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], dict[str, int], str | None]:
    """A page of the differences from ``old`` to ``new`` and the summary of all of them.

    The summary needs the whole merge, so every page reads both manifests to the end; memory
    stays bounded because both streams are sorted.
    """
    after = None
    if cursor:
        last = decode_cursor(cursor)
        if not isinstance(last, str):
            raise InvalidArgument("cursor is not one this API returned; repeat the request without a cursor")
        after = sort_key(last)
    summary = {"added": 0, "removed": 0, "changed": 0}
    page: list[dict[str, Any]] = []
    more = False
    async for change in diff_manifests(manifest_entries(catalog, old), manifest_entries(catalog, new)):
        summary[change.kind] += 1
        if after is not None and sort_key(change.path) <= after:
            continue
        if len(page) < limit:
            page.append({"kind": change.kind, "path": change.path,
                         "old_size": change.old_size, "new_size": change.new_size})
        else:
            more = True
    return page, summary, (encode_cursor(page[-1]["path"]) if more else None)
