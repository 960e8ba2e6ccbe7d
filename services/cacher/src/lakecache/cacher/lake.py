"""Where a requested commit's bytes may be read from, and the check that a command may ask.

A cache command names a project, a dataset and a commit, and carries the catalog's signed
source grant (``lakecache.core.identity.grants``). The cacher reads the lake with its own
rights, so it believes only the grant, and only after checking:

* the signature (the catalog's key), the audience (``cacher``) and the expiry;
* that the grant is about the command's project, dataset and commit;
* that the dataset's location lies inside one of the lake roots this cacher may read
  (``cacher.lake_roots``, by default the service's ``lake_url``).

The verified grant is stored with the copy; every fill of it reads the manifest from the
grant's location, refuses a manifest whose entries and parents do not give the commit id back,
and opens an imported entry's ``object`` only inside the grant's locations and the lake roots
(:meth:`Source.check_object`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lakecache.cacher.fill.errors import FillError
from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.errors import ConfigurationError, InvalidArgument
from lakecache.core.identity import InvalidCredential, KeyRing
from lakecache.core.identity.grants import SourceGrant, url_within, verify_grant
from lakecache.core.identity.tokens import unknown_key
from lakecache.core.layout import join_url, manifest_key
from lakecache.core.ports.objectstore import ObjectStore


class ForbiddenSource(InvalidArgument):
    """The command may not read what it asks for (no valid grant, or outside the lake roots)."""


@dataclass(frozen=True)
class Source:
    """Where one copy's bytes may come from: the verified grant and the cacher's lake roots."""

    grant: SourceGrant
    lake_roots: tuple[str, ...]

    @property
    def lake_url(self) -> str:
        return self.grant.location

    @property
    def manifest_url(self) -> str:
        return join_url(self.grant.location, manifest_key(self.grant.commit_id))

    def check_object(self, url: str, path: str) -> None:
        """Refuse (``ForbiddenSource``) an entry's object outside what this copy may read. The
        message names the entry and the URL the commit itself gave, nothing read from the lake."""
        if not self.grant.allows(url):
            raise ForbiddenSource(
                f"entry {path!r} points at {url}, outside dataset {self.grant.project}/{self.grant.dataset}'s "
                "location and the project's import locations; the commit cannot be cached")
        if not any(url_within(url, root) for root in self.lake_roots):
            raise ForbiddenSource(f"entry {path!r} points at {url}, outside the lake roots this cacher may read "
                                  "(cacher.lake_roots); ask an operator to add it")

    def as_document(self) -> dict[str, Any]:
        return {"grant": self.grant.as_dict(), "lake_roots": list(self.lake_roots)}

    @classmethod
    def from_document(cls, doc: dict[str, Any], lake_roots: Sequence[str]) -> Source:
        """The source a copy recorded, bounded by the lake roots the cacher has *now* (settings
        may have narrowed them since the request): ``ForbiddenSource`` when outside them."""
        grant = SourceGrant.from_dict(doc["grant"])
        _check_location(grant, lake_roots)
        return cls(grant, tuple(lake_roots))


async def authorize(command: CacheRequested, keys: KeyRing, lake_roots: Sequence[str], *,
                    leeway_seconds: float = 5.0) -> Source:
    """The source ``command`` may read, from its verified grant; ``ForbiddenSource`` otherwise."""
    if not command.source_grant:
        raise ForbiddenSource(f"cache request {command.request_id} carries no source grant from the catalog; "
                              "requests must come through the gateway")
    if unknown_key(command.source_grant, keys) and keys.should_refresh():
        await asyncio.to_thread(keys.refresh)  # a catalog that started (or rotated its key) after this cacher
    try:
        grant = verify_grant(command.source_grant, keys, leeway_seconds=leeway_seconds)
    except InvalidCredential as exc:
        raise ForbiddenSource(f"cache request {command.request_id}: the source grant is not valid: {exc}") from None
    claimed = (command.project, command.dataset, command.dataset_id, command.commit_id)
    granted = (grant.project, grant.dataset, grant.dataset_id, grant.commit_id)
    if claimed != granted:
        raise ForbiddenSource(f"cache request {command.request_id} asks for {command.project}/{command.dataset}@"
                              f"{command.commit_id[:12]}, but its grant is for {grant.project}/{grant.dataset}@"
                              f"{grant.commit_id[:12]}; refusing it")
    if not all(isinstance(p, str) for p in grant.parents) or not all(isinstance(i, str) for i in grant.imports):
        raise ForbiddenSource(f"cache request {command.request_id}: the source grant's parents or imports are not "
                              "all strings; refusing it")
    _check_location(grant, lake_roots)
    return Source(grant, tuple(lake_roots))


def _check_location(grant: SourceGrant, lake_roots: Sequence[str]) -> None:
    if not any(url_within(grant.location, root) for root in lake_roots):
        raise ForbiddenSource(f"dataset {grant.project}/{grant.dataset} lives at {grant.location}, outside the lake "
                              "roots this cacher may read (cacher.lake_roots); ask an operator to add it")


async def manifest_chunks(open_store: Callable[[str], ObjectStore], source: Source,
                          commit_id: str) -> AsyncIterator[bytes]:
    """Stream the commit's gzip manifest (opened only when the fill reads it). A location that
    cannot be opened (not a lake; refused) fails the fill for good (``FillError``)."""
    try:
        store = open_store(source.lake_url)
        await store.__aenter__()
    except (ConfigurationError, InvalidArgument) as exc:
        raise FillError(f"the dataset's location {source.lake_url} cannot be read: {exc}", retryable=False) from exc
    try:
        async with store.get(manifest_key(commit_id)) as reader:
            async for chunk in reader:
                yield chunk
    finally:
        await store.__aexit__(None, None, None)
