"""The gateway's dataset-side routes (the catalog's, behind it): datasets, commits, refs,
entries, diffs, tags, uploads, imports and import locations.

Every method returns the decoded JSON the API answers; failures raise ``GatewayError``
subclasses (``lakecache.sdk.errors``). ``GatewayClient`` has these methods.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote

from lakecache.core.manifest import ManifestEntry
from lakecache.sdk.errors import GatewayUnavailable
from lakecache.sdk.http import API, GatewaySession

#: Contents per ``upload_tickets`` call (the catalog's limit).
MAX_UPLOAD_BATCH = 1000
# Entries are sent in batches of lines: one write per entry would cost more than the JSON.
_LINES_PER_CHUNK = 2000


def _dataset_path(project: str, name: str) -> str:
    return f"{API}/datasets/{quote(project, safe='')}/{quote(name, safe='')}"


def _locations_path(project: str) -> str:
    return f"{API}/projects/{quote(project, safe='')}/import-locations"


async def ndjson_lines(header: dict[str, Any], entries: Iterable[ManifestEntry] | AsyncIterable[ManifestEntry]
                       ) -> AsyncIterator[bytes]:
    """The commit body: the header line, then one entry per line, in chunks."""
    yield (json.dumps(header) + "\n").encode()
    batch: list[bytes] = []
    if isinstance(entries, AsyncIterable):
        async for entry in entries:
            batch.append(entry.line())
            if len(batch) >= _LINES_PER_CHUNK:
                yield b"".join(batch)
                batch.clear()
    else:
        for entry in entries:
            batch.append(entry.line())
            if len(batch) >= _LINES_PER_CHUNK:
                yield b"".join(batch)
                batch.clear()
    if batch:
        yield b"".join(batch)


class DatasetCalls(GatewaySession):
    """Datasets, commits, uploads, imports and import locations, through the gateway."""

    # datasets

    async def create_dataset(self, project: str, name: str, *, description: str | None = None,
                             tags: list[str] | None = None, lake_url: str | None = None) -> dict[str, Any]:
        """Create a dataset; ``GatewayConflict`` if it exists."""
        body = {"project": project, "name": name, "description": description, "tags": tags, "lake_url": lake_url}
        return await self.request("POST", f"{API}/datasets", what=f"create dataset {project}/{name}",
                                  json_body={k: v for k, v in body.items() if v is not None})

    async def list_datasets(self, *, project: str | None = None, tag: str | None = None, query: str | None = None,
                            limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every matching dataset, following ``next_cursor`` pages."""
        params = {"project": project, "tag": tag, "q": query, "limit": limit}
        async for item in self._pages(f"{API}/datasets", params, what="list datasets"):
            yield item

    async def get_dataset(self, project: str, name: str) -> dict[str, Any]:
        """The dataset, with its ``head`` commit id; ``GatewayNotFound`` if unknown."""
        return await self.request("GET", _dataset_path(project, name), what=f"show dataset {project}/{name}")

    async def update_dataset(self, project: str, name: str, **changes: Any) -> dict[str, Any]:
        """Change ``description`` and/or ``tags``."""
        return await self.request("PATCH", _dataset_path(project, name), json_body=changes,
                                  what=f"update dataset {project}/{name}")

    async def delete_dataset(self, project: str, name: str) -> None:
        """Delete the dataset (its commits' bytes stay in the lake)."""
        await self.request("DELETE", _dataset_path(project, name), what=f"delete dataset {project}/{name}")

    # commits

    async def commit(self, project: str, name: str, entries: Iterable[ManifestEntry] | AsyncIterable[ManifestEntry],
                     *, message: str, parents: list[str] | None = None, allow_empty: bool = False) -> dict[str, Any]:
        """Post a commit, streaming ``entries`` as NDJSON.

        Returns ``{"commit": {...}, "created": True}``, or ``{"created": False, "unchanged": True,
        "commit": head}`` when the content equals the head. ``GatewayInvalid`` with ``errors``
        for unsafe paths, ``GatewayConflict`` when the head moved (re-run to rebase).
        """
        header = {"message": message, "parents": parents, "allow_empty": allow_empty}
        return await self.request(
            "POST", _dataset_path(project, name) + "/commits", what=f"commit to {project}/{name}",
            data=ndjson_lines(header, entries), headers={"Content-Type": "application/x-ndjson"},
        )

    async def log(self, project: str, name: str, *, ref: str = "latest",
                  limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield commits from ``ref`` back through their parents, newest first."""
        async for item in self._pages(_dataset_path(project, name) + "/commits", {"ref": ref, "limit": limit},
                                      what=f"log of {project}/{name}@{ref}", stop_after=limit):
            yield item

    async def get_commit(self, project: str, name: str, ref: str = "latest") -> dict[str, Any]:
        """The commit ``ref`` (commit id, tag or ``latest``) names."""
        return await self.request("GET", f"{_dataset_path(project, name)}/refs/{quote(ref, safe='')}",
                                  what=f"resolve {project}/{name}@{ref}")

    async def entries(self, project: str, name: str, ref: str = "latest", *, prefix: str | None = None,
                      start_after: str | None = None, limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the commit's manifest entries under ``prefix``, in path order."""
        path = f"{_dataset_path(project, name)}/refs/{quote(ref, safe='')}/entries"
        params = {"prefix": prefix, "start_after": start_after}
        async for item in self._pages(path, params, what=f"list {project}/{name}@{ref}", stop_after=limit):
            yield item

    async def diff(self, project: str, name: str, from_ref: str, to_ref: str) -> dict[str, Any]:
        """All differences between two refs: ``{"items": [...], "summary": {added, removed, changed}}``."""
        items: list[dict[str, Any]] = []
        summary: dict[str, Any] = {}
        params: dict[str, Any] = {"from": from_ref, "to": to_ref}
        what = f"diff {project}/{name}@{from_ref}..{to_ref}"
        while True:
            page = await self.request("GET", _dataset_path(project, name) + "/diff", params=params, what=what)
            items.extend(page.get("items", []))
            summary = page.get("summary") or summary
            if not page.get("next_cursor"):
                return {"items": items, "summary": summary}
            params["cursor"] = page["next_cursor"]

    async def set_tag(self, project: str, name: str, tag: str, ref: str, *, force: bool = False) -> dict[str, Any]:
        """Point ``tag`` at ``ref``; moving an existing tag needs ``force``."""
        return await self.request("PUT", f"{_dataset_path(project, name)}/tags/{quote(tag, safe='')}",
                                  json_body={"ref": ref, "force": force}, what=f"tag {project}/{name}@{ref} as {tag}")

    async def tags(self, project: str, name: str) -> Any:
        """The dataset's tags."""
        return await self.request("GET", _dataset_path(project, name) + "/tags", what=f"tags of {project}/{name}")

    # uploads and imports

    async def upload_tickets(self, project: str, name: str, contents: list[tuple[str, int]]) -> list[dict[str, Any]]:
        """For each ``(sha256, size)`` (at most ``MAX_UPLOAD_BATCH``): whether the dataset's content
        store has it (``present``), else how to upload it (``upload``: ``method``, ``url`` — a
        presigned URL, or None to upload through the gateway — ``headers`` and ``expires_at``)."""
        body = {"contents": [{"sha256": sha, "size": size} for sha, size in contents]}
        answer = await self.request("POST", _dataset_path(project, name) + "/uploads", json_body=body,
                                    what=f"ask where to upload {len(contents)} contents of {project}/{name}")
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(contents) or not all(isinstance(i, dict) for i in items):
            raise GatewayUnavailable(f"ask where to upload contents of {project}/{name}: the gateway answered "
                                     f"{len(items) if isinstance(items, list) else 'no'} items for {len(contents)} "
                                     "contents; is LAKECACHE_API_URL a LakeCache gateway of this version?")
        return items

    def content_path(self, project: str, name: str, sha256: str) -> str:
        """The gateway's route that stores one content of the dataset (``PUT`` the bytes)."""
        return f"{_dataset_path(project, name)}/contents/{quote(sha256, safe='')}"

    async def import_source(self, project: str, name: str, source: str, *, message: str,
                            allow_empty: bool = False) -> dict[str, Any]:
        """Commit the objects under ``source`` (inside one of the project's import locations),
        bytes left in place; the catalog lists and hashes them with its own credentials."""
        body = {"source": source, "message": message, "allow_empty": allow_empty}
        return await self.request("POST", _dataset_path(project, name) + "/imports", json_body=body,
                                  what=f"import {source} into {project}/{name}")

    async def import_locations(self, project: str) -> list[dict[str, Any]]:
        """The lake locations ``project`` may import from, by name."""
        return [item async for item in self._pages(_locations_path(project), {},
                                                  what=f"list the import locations of project {project}")]

    async def set_import_location(self, project: str, name: str, url: str) -> dict[str, Any]:
        """Register (or confirm) the import location ``name`` of ``project`` at ``url``
        (installation administrators)."""
        return await self.request("PUT", f"{_locations_path(project)}/{quote(name, safe='')}",
                                  json_body={"url": url},
                                  what=f"register import location {name!r} of project {project}")

    async def delete_import_location(self, project: str, name: str) -> None:
        """Remove the import location ``name`` of ``project`` (installation administrators)."""
        await self.request("DELETE", f"{_locations_path(project)}/{quote(name, safe='')}",
                           what=f"remove import location {name!r} of project {project}")
