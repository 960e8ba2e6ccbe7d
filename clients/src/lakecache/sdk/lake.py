"""Open a dataset's lake location (``Dataset.lake_url``) from the client side.

An ``s3://bucket/prefix/project/name`` URL is opened as it is: S3 stores take a key prefix
from the URL. A ``file://`` lake is one store for the whole directory (an index plus blobs,
see ``LocalObjectStore``), so a dataset's ``file:///lake/project/name`` is a key prefix inside
the store rooted at ``/lake``; opening the sub-directory as a store of its own would put the
bytes where the catalog and the cacher never look. ``open_lake`` finds that root and returns
a view that adds the prefix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.ports.objectstore import ObjectInfo

LOCAL_INDEX = "index.sqlite3"


class PrefixedStore:
    """The part of an object store under ``prefix``, with keys relative to it."""

    def __init__(self, store: Any, prefix: str, url: str) -> None:
        self._store, self._prefix, self._url = store, prefix.strip("/") + "/", url

    @property
    def url(self) -> str:
        return self._url

    async def __aenter__(self) -> PrefixedStore:
        await self._store.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._store.__aexit__(*exc_info)

    def _strip(self, info: ObjectInfo) -> ObjectInfo:
        return replace(info, key=info.key[len(self._prefix):])

    async def iter_objects(self, prefix: str = "", *, start_after: str | None = None):
        after = self._prefix + start_after if start_after is not None else None
        async for info in self._store.iter_objects(self._prefix + prefix, start_after=after):
            yield self._strip(info)

    async def head(self, key: str, **options: Any) -> ObjectInfo:
        return self._strip(await self._store.head(self._prefix + key, **options))

    def get(self, key: str, **options: Any) -> Any:
        return self._store.get(self._prefix + key, **options)

    async def put(self, key: str, data: Any, **options: Any) -> ObjectInfo:
        return self._strip(await self._store.put(self._prefix + key, data, **options))


def _local_root(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if (candidate / LOCAL_INDEX).is_file():
            return candidate
    return None


def open_lake(url: str, options: dict[str, Any]) -> Any:
    """An unopened store for ``url``; ``file://`` URLs inside an existing local lake are
    served by that lake's store with the sub-path as key prefix. No I/O beyond ``stat``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        root = _local_root(path)
        if root is not None and root != path:
            store = object_store_from_url(root.as_uri(), **options)
            return PrefixedStore(store, path.relative_to(root).as_posix(), url.rstrip("/"))
    return object_store_from_url(url, **options)
