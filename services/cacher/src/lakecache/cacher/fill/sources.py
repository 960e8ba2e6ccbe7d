"""Where a content's bytes are in the lake: the dataset's content key, or an import's own URL.

Stores are opened lazily, once per base URL, and closed with the fill. ``open_store`` builds
an unopened store from a URL (e.g. ``functools.partial(object_store_from_url, **options)``);
the cacher's settings decide the options, such as ``max_concurrency`` sized like the fill's,
and open local lakes read-only (a source is never written to). A store that cannot be opened
fails the fill for good (``FillError``), naming the URL the commit gave.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.planner import Content
from lakecache.core.adapters.objects.local import enclosing_lake
from lakecache.core.errors import ConfigurationError, InvalidArgument
from lakecache.core.layout import content_key
from lakecache.core.ports.objectstore import ObjectStore

StoreOpener = Callable[[str], ObjectStore]


def split_object_url(url: str) -> tuple[str, str]:
    """``(store URL, key)`` for an import's object URL: ``s3://bucket/key`` opens the bucket;
    ``file:///…`` opens the enclosing local lake (a path in no lake is refused)."""
    parts = urlsplit(url)
    if parts.scheme == "s3" and parts.netloc and parts.path.strip("/"):
        return f"s3://{parts.netloc}", parts.path.lstrip("/")
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        lake = enclosing_lake(path.parent)
        if lake is None:
            # Opening a plain directory as a lake would create an index there: never write to a source.
            raise ValueError(f"object URL {url!r} is not inside a local lake")
        return lake.as_uri(), path.relative_to(lake).as_posix()
    raise ValueError(f"object URL {url!r} is neither s3://bucket/key nor file:///path")


class Sources:
    def __init__(self, lake_url: str, open_store: StoreOpener, stack: contextlib.AsyncExitStack) -> None:
        self._lake_url, self._open_store, self._stack = lake_url, open_store, stack
        self._stores: dict[str, asyncio.Task[ObjectStore]] = {}

    async def resolve(self, content: Content) -> tuple[ObjectStore, str]:
        if content.object_url:
            base, key = split_object_url(content.object_url)
        else:
            base, key = self._lake_url, content_key(content.sha256)
        task = self._stores.get(base)
        if task is None:  # one task per base URL, so concurrent fetches share one opening
            task = self._stores[base] = asyncio.ensure_future(self._open(base))
        try:
            return await asyncio.shield(task), key
        except (ConfigurationError, InvalidArgument) as exc:
            raise FillError(f"content of {content.path!r} cannot be read from {content.object_url or base}: {exc}",
                            retryable=False, failed_paths=[content.path]) from exc

    async def _open(self, url: str) -> ObjectStore:
        return await self._stack.enter_async_context(self._open_store(url))
