"""Small helpers shared by the client tests."""

from __future__ import annotations

from pathlib import Path

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.sdk.staging import CONTENT_PREFIX


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


async def content_keys(lake_url: str, options: dict | None = None) -> set[str]:
    """Keys of the synced contents stored under a dataset's lake location."""
    async with object_store_from_url(lake_url, **(options or {})) as store:
        return {info.key async for info in store.iter_objects(CONTENT_PREFIX)}


class CountingStore:
    """Wraps a store, counts puts, and can fail the put after ``fail_after`` successful ones."""

    def __init__(self, store, fail_after: int | None = None) -> None:
        self._store, self.fail_after, self.puts = store, fail_after, 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def put(self, key, data, **options):
        if self.fail_after is not None and self.puts >= self.fail_after:
            raise ConnectionResetError("simulated network failure during upload")
        info = await self._store.put(key, data, **options)
        self.puts += 1
        return info
