"""``CatalogClient``: the async HTTP client of the catalog API (``/api/v1``).

Every method returns the decoded JSON the API answers. Failures raise a ``CatalogError``
subclass that is also the matching port error (``NotFound``, ``Conflict``,
``InvalidArgument``, ``Unavailable``), carrying the problem's ``detail`` and, for refused
commits, the per-path ``errors``; callers catch by meaning, not by HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from lakecache.core.errors import Conflict, InvalidArgument, LakeCacheError, NotFound, Unavailable
from lakecache.core.manifest import ManifestEntry
from lakecache.sdk.settings import ClientSettings

API = "/api/v1"
# Entries are sent in batches of lines: one write per entry would cost more than the JSON.
_LINES_PER_CHUNK = 2000


class CatalogError(LakeCacheError):
    """The catalog refused or failed a request. ``errors`` lists ``{path, reason}`` items."""

    def __init__(self, message: str, *, status: int = 0, title: str = "", detail: str = "",
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []


class CatalogNotFound(CatalogError, NotFound):
    """The dataset, ref or tag does not exist."""


class CatalogConflict(CatalogError, Conflict):
    """The write met existing state (a dataset with that name, a moved head, a tag without force)."""


class CatalogRejected(CatalogError, InvalidArgument):
    """The request was refused as invalid (e.g. unsafe paths in a commit)."""


class CatalogUnavailable(CatalogError, Unavailable):
    """The catalog could not be reached or failed on its side; retry later."""


class CatalogUnauthenticated(CatalogError):
    """The gateway wants a valid token (401): none was sent, or it is unknown, revoked or expired."""


#: What to do about a 401, in every message about one.
TOKEN_HINT = ("Set LAKECACHE_TOKEN to an API token, or run `lakecache up`: it writes an administrator token to "
              "<home>/admin-token (home: LAKECACHE_HOME, default .lakecache), which is used when readable.")


def _error_type(status: int) -> type[CatalogError]:
    if status == 401:
        return CatalogUnauthenticated
    if status == 404:
        return CatalogNotFound
    if status in (409, 412):
        return CatalogConflict
    if status >= 500 or status == 0:
        return CatalogUnavailable
    if status in (400, 422):
        return CatalogRejected
    return CatalogError


async def request_json(session: aiohttp.ClientSession, base_url: str, method: str, path: str, *, what: str,
                       service: str, setting: str, unavailable: type[CatalogError],
                       params: dict[str, Any] | None = None, json_body: Any = None, data: Any = None,
                       headers: dict[str, str] | None = None) -> Any:
    """One request to a LakeCache service; the parsed JSON body, or the problem as an exception
    (``unavailable`` when the service cannot be reached, naming the ``setting`` to fix)."""
    query = {k: str(v) for k, v in (params or {}).items() if v is not None}
    try:
        async with session.request(method, base_url + path, params=query, json=json_body, data=data,
                                   headers=headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise unavailable(
            f"{what}: cannot reach the {service} at {base_url} ({exc or type(exc).__name__}). "
            f"Is it running? Set {setting} to its address."
        ) from exc
    try:
        body = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = text
    if status >= 400:
        token_sent = "Authorization" in session.headers or "Authorization" in (headers or {})
        raise problem_error(what, status, body, token_sent=token_sent)
    return body


def problem_error(what: str, status: int, body: Any, *, token_sent: bool | None = None) -> CatalogError:
    """A ``CatalogError`` from an RFC 9457 problem (or any other error body); a 401 says whether
    a token was sent (when known) and how to set one."""
    problem = body if isinstance(body, dict) else {}
    title = str(problem.get("title") or f"HTTP {status}")
    detail = str(problem.get("detail") or (body if isinstance(body, str) else "") or "")
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    message = f"{what}: {detail or title}"
    if status == 401:
        refused = {True: "the token was refused", False: "no token was sent"}.get(token_sent, "no valid token")
        message = f"{what}: {refused} ({detail or title}). {TOKEN_HINT}"
    if errors:
        listed = "\n".join(f"  - {_error_line(e)}" for e in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        message += f"\n{listed}{more}"
    return _error_type(status)(message, status=status, title=title, detail=detail, errors=errors)


def _error_line(error: dict[str, Any]) -> str:
    """One item of a problem's ``errors``: the catalog's ``{path, reason}`` (a refused file) or the
    gateway's ``{location, message}`` (a refused input, e.g. ``query.project``)."""
    if "location" in error and "path" not in error:
        return f"{error.get('location')}: {error.get('message')}"
    return f"{error.get('path')!r}: {error.get('reason')}"


def _dataset_path(project: str, name: str) -> str:
    return f"{API}/datasets/{quote(project, safe='')}/{quote(name, safe='')}"


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


class CatalogClient:
    """Async client of the catalog; use as ``async with CatalogClient(settings) as catalog:``."""

    def __init__(self, settings: ClientSettings | None = None, *, base_url: str | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.base_url = (base_url or self.settings.api_url).rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json",
                                                                        **self.settings.auth_headers()})
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _request(self, method: str, path: str, *, what: str, params: dict[str, Any] | None = None,
                       json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        if self._session is None:
            raise RuntimeError("use the client inside `async with CatalogClient(...) as catalog:`")
        return await request_json(self._session, self.base_url, method, path, what=what, service="gateway",
                                  setting="LAKECACHE_API_URL", unavailable=CatalogUnavailable, params=params,
                                  json_body=json_body, data=data, headers=headers)

    # datasets

    async def create_dataset(self, project: str, name: str, *, description: str | None = None,
                             tags: list[str] | None = None, lake_url: str | None = None) -> dict[str, Any]:
        """Create a dataset; ``CatalogConflict`` if it exists."""
        body = {"project": project, "name": name, "description": description, "tags": tags, "lake_url": lake_url}
        return await self._request("POST", f"{API}/datasets", what=f"create dataset {project}/{name}",
                                   json_body={k: v for k, v in body.items() if v is not None})

    async def list_datasets(self, *, project: str | None = None, tag: str | None = None, query: str | None = None,
                            limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every matching dataset, following ``next_cursor`` pages."""
        params = {"project": project, "tag": tag, "q": query, "limit": limit}
        async for item in self._pages(f"{API}/datasets", params, what="list datasets"):
            yield item

    async def get_dataset(self, project: str, name: str) -> dict[str, Any]:
        """The dataset, with its ``head`` commit id; ``CatalogNotFound`` if unknown."""
        return await self._request("GET", _dataset_path(project, name), what=f"show dataset {project}/{name}")

    async def update_dataset(self, project: str, name: str, **changes: Any) -> dict[str, Any]:
        """Change ``description`` and/or ``tags``."""
        return await self._request("PATCH", _dataset_path(project, name), json_body=changes,
                                   what=f"update dataset {project}/{name}")

    async def delete_dataset(self, project: str, name: str) -> None:
        """Delete the dataset (its commits' bytes stay in the lake)."""
        await self._request("DELETE", _dataset_path(project, name), what=f"delete dataset {project}/{name}")

    # commits

    async def commit(self, project: str, name: str, entries: Iterable[ManifestEntry] | AsyncIterable[ManifestEntry],
                     *, message: str, parents: list[str] | None = None, allow_empty: bool = False) -> dict[str, Any]:
        """Post a commit, streaming ``entries`` as NDJSON.

        Returns ``{"commit": {...}, "created": True}``, or ``{"created": False, "unchanged": True,
        "commit": head}`` when the content equals the head. ``CatalogRejected`` with ``errors``
        for unsafe paths, ``CatalogConflict`` when the head moved (re-run to rebase).
        """
        header = {"message": message, "parents": parents, "allow_empty": allow_empty}
        return await self._request(
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
        return await self._request("GET", f"{_dataset_path(project, name)}/refs/{quote(ref, safe='')}",
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
            page = await self._request("GET", _dataset_path(project, name) + "/diff", params=params, what=what)
            items.extend(page.get("items", []))
            summary = page.get("summary") or summary
            if not page.get("next_cursor"):
                return {"items": items, "summary": summary}
            params["cursor"] = page["next_cursor"]

    async def set_tag(self, project: str, name: str, tag: str, ref: str, *, force: bool = False) -> dict[str, Any]:
        """Point ``tag`` at ``ref``; moving an existing tag needs ``force``."""
        return await self._request("PUT", f"{_dataset_path(project, name)}/tags/{quote(tag, safe='')}",
                                   json_body={"ref": ref, "force": force}, what=f"tag {project}/{name}@{ref} as {tag}")

    async def tags(self, project: str, name: str) -> Any:
        """The dataset's tags."""
        return await self._request("GET", _dataset_path(project, name) + "/tags", what=f"tags of {project}/{name}")

    async def _pages(self, path: str, params: dict[str, Any], *, what: str,
                     stop_after: int | None = None) -> AsyncIterator[dict[str, Any]]:
        params = dict(params)
        yielded = 0
        while True:
            page = await self._request("GET", path, params=params, what=what)
            for item in page.get("items", []):
                yield item
                yielded += 1
                if stop_after is not None and yielded >= stop_after:
                    return
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]
