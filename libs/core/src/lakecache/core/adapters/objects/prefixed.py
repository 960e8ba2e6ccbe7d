"""A view of an object store under a key prefix, with keys relative to it.

``s3://bucket/a/b`` is such a view natively (the S3 adapter keeps a prefix); a ``file://``
URL that points *inside* an existing local lake is served by the lake's one store through
this view, so ``file:///lake/p/n`` and ``s3://bucket/p/n`` mean the same thing: the keys under
``p/n/`` of one store. Without it a sub-directory would open as a second, separate store and
its bytes would land where nobody else looks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, Self

from lakecache.core.ports.objectstore import (
    DEFAULT_LIST_LIMIT,
    ByteRange,
    ChunkSink,
    ListPage,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PresignedPut,
    PutData,
)


class PrefixedObjectStore(ObjectStore):
    """``inner`` restricted to keys under ``prefix`` (a ``/``-terminated key prefix)."""

    def __init__(self, inner: ObjectStore, prefix: str, url: str | None = None) -> None:
        self._inner = inner
        self._prefix = prefix.strip("/") + "/"
        self._url = url or f"{inner.url.rstrip('/')}/{self._prefix.rstrip('/')}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        raise NotImplementedError("build a PrefixedObjectStore from a store and a prefix")

    @property
    def url(self) -> str:
        return self._url

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)

    def _relative(self, info: ObjectInfo) -> ObjectInfo:
        return replace(info, key=info.key[len(self._prefix):])

    async def list(
        self, prefix: str = "", *, start_after: str | None = None, token: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> ListPage:
        after = None if start_after is None else self._prefix + start_after
        page = await self._inner.list(self._prefix + prefix, start_after=after, token=token, limit=limit)
        return ListPage(tuple(self._relative(o) for o in page.objects), page.next_token)

    async def head(self, key: str, *, if_match: str | None = None) -> ObjectInfo:
        return self._relative(await self._inner.head(self._prefix + key, if_match=if_match))

    def get(self, key: str, *, range: ByteRange | None = None, if_match: str | None = None) -> ObjectReader:
        return _PrefixedReader(self, self._inner.get(self._prefix + key, range=range, if_match=if_match))

    async def read_into(
        self, key: str, sink: ChunkSink, *, range: ByteRange | None = None, if_match: str | None = None,
        part_size: int | None = None,
    ) -> int:
        return await self._inner.read_into(self._prefix + key, sink, range=range, if_match=if_match,
                                           part_size=part_size)

    async def put(
        self, key: str, data: PutData, *, if_match: str | None = None, if_none_match: bool = False,
        sha256: str | None = None,
    ) -> ObjectInfo:
        info = await self._inner.put(
            self._prefix + key, data, if_match=if_match, if_none_match=if_none_match, sha256=sha256
        )
        return self._relative(info)

    async def presign_put(self, key: str, *, sha256: str, size: int, expires_seconds: int) -> PresignedPut | None:
        return await self._inner.presign_put(self._prefix + key, sha256=sha256, size=size,
                                             expires_seconds=expires_seconds)

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        await self._inner.delete(self._prefix + key, if_match=if_match)


class _PrefixedReader(ObjectReader):
    def __init__(self, store: PrefixedObjectStore, inner: ObjectReader) -> None:
        super().__init__()
        self._store, self._inner = store, inner

    async def _start(self) -> None:
        await self._inner.__aenter__()
        self.info = self._store._relative(self._inner.info)
        self.range = self._inner.range

    def _chunks(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def _finish(self) -> None:
        await self._inner.__aexit__(None, None, None)
