"""Where a requested commit is in the lake, and whether the command may ask for it.

A command names ``project``/``dataset`` and, usually, the commit's ``manifest_url``
(``<dataset lake URL>/_lakecache/manifests/<commit>.jsonl.gz``). An event cannot do what its
sender may not, so the cacher checks the URL against the names before fetching anything:

* the URL must end with the manifest key of the requested commit (else: refused);
* in the catalog's default layout the dataset's lake URL ends with ``/<project>/<dataset>``.
  When its last segment is the dataset's name, the segment before it must be the command's
  project (else: refused, the command claims another project's data) — ownership ``verified``;
* a dataset placed elsewhere (a custom ``lake_url``) cannot be checked from the URL alone:
  the fill proceeds and the copy records ownership ``unverified``.

Without a ``manifest_url`` the commit is looked up in the default layout of the cacher's own
lake, which is ``verified`` by construction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lakecache.core.errors import InvalidArgument
from lakecache.core.layout import join_url, manifest_key
from lakecache.core.ports.objectstore import ObjectStore


class ForbiddenSource(InvalidArgument):
    """The command's manifest URL does not belong to the project and commit it names."""


@dataclass(frozen=True)
class Source:
    lake_url: str  # the dataset's lake location (what fills read content from)
    manifest_url: str
    ownership: str  # "verified" | "unverified"


def locate(project: str, dataset: str, commit_id: str, manifest_url: str | None, default_lake: str) -> Source:
    suffix = "/" + manifest_key(commit_id)
    if manifest_url is None:
        lake_url = join_url(default_lake, project, dataset)
        return Source(lake_url, lake_url + suffix, "verified")
    if not manifest_url.endswith(suffix):
        raise ForbiddenSource(f"manifest_url {manifest_url!r} is not the manifest of commit {commit_id} "
                              f"(expected it to end with {suffix!r}); refusing the command")
    lake_url = manifest_url[: -len(suffix)]
    segments = [s for s in urlsplit(lake_url).path.split("/") if s]
    if segments and segments[-1] == dataset:
        if len(segments) < 2 or segments[-2] != project:
            owner = segments[-2] if len(segments) >= 2 else "none"
            raise ForbiddenSource(f"the command asks for project {project!r} but manifest_url {manifest_url!r} "
                                  f"is in project {owner!r}'s dataset location; refusing the command")
        return Source(lake_url, manifest_url, "verified")
    return Source(lake_url, manifest_url, "unverified")


async def manifest_chunks(open_store: Callable[[str], ObjectStore], source: Source,
                          commit_id: str) -> AsyncIterator[bytes]:
    """Stream the commit's gzip manifest (opened only when the fill reads it)."""
    async with open_store(source.lake_url) as store, store.get(manifest_key(commit_id)) as reader:
        async for chunk in reader:
            yield chunk
