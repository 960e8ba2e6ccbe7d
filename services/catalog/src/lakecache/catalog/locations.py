"""Which lake locations a dataset or an import location may have: bound to a project, never shared.

The catalog writes a dataset's manifests and content under its location with its own
credentials, and the cacher reads whatever a grant names (``grants.py``), so a location is a
capability: it must belong to exactly one scope.

* A dataset lives at ``<lake>/<project>/<name>``, or at a location it names strictly under
  ``<lake>/<project>/`` (never another project's prefix, never ``_lakecache``).
* No two locations overlap (one containing the other): not two live datasets (any project),
  not a dataset and an import location, not two projects' import locations. A deleted
  dataset keeps its location for the lineage of its commits, so only its own project may
  use it again (its content is addressed by hash, so sharing it there is harmless).

The overlap checks read the other locations and then write; two requests racing to claim
overlapping locations could both pass. Creating datasets and registering import locations are
rare, deliberate acts, so that window is accepted rather than serialized.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lakecache.catalog.storage import Catalog
from lakecache.core.adapters.objects.local import enclosing_lake
from lakecache.core.errors import InvalidArgument
from lakecache.core.identity.grants import url_within, urls_overlap
from lakecache.core.layout import RESERVED_PREFIX, join_url
from lakecache.core.paths import path_problems

_RESERVED = RESERVED_PREFIX.rstrip("/")
#: Characters refused in location segments: escapes and URL syntax would let one location be
#: spelled two ways (``%63ats`` and ``cats``), which the segment-wise checks must never meet.
_URL_SYNTAX = frozenset("%?#;\\")


def _plain_segments(text: str) -> list[str]:
    """Why ``text`` (a ``/``-separated key prefix) is not a plain location path, if it is not."""
    reasons = list(path_problems(text))
    if _URL_SYNTAX & set(text):
        reasons.append("contains one of % ? # ; \\ (write plain path segments, no escapes)")
    if _RESERVED in text.split("/"):
        reasons.append(f"uses the reserved name {_RESERVED!r}")
    return reasons


def dataset_location(catalog: Catalog, project: str, name: str, lake_url: object) -> tuple[str, str]:
    """(lake URL, key prefix in the catalog's lake) of a new dataset, before overlap checks."""
    root = catalog.lake_url
    project_root = join_url(root, project)
    if lake_url is None:
        return join_url(project_root, name), f"{project}/{name}"
    if not isinstance(lake_url, str):
        raise InvalidArgument(f"lake_url must be a string URL, got {lake_url!r}")
    url = lake_url.rstrip("/")
    if not url.startswith(project_root + "/"):
        # The catalog writes manifests under the dataset root with its own credentials, and
        # the project's prefix is what keeps one project's datasets out of another's.
        where = f"the catalog's lake {root!r}" if not url.startswith(root + "/") else \
            f"project {project}'s prefix {project_root!r}"
        raise InvalidArgument(
            f"lake_url {lake_url!r} is outside {where}: a dataset of project {project} lives under "
            f"{project_root}/ (leave lake_url out for the default {join_url(project_root, name)})"
        )
    prefix = url[len(root) + 1:]
    problems = _plain_segments(prefix)
    if problems:
        raise InvalidArgument(f"lake_url {lake_url!r} is not a usable dataset location: {'; '.join(problems)}")
    return url, prefix


async def check_dataset_location(catalog: Catalog, project: str, name: str, url: str) -> None:
    """Refuse (``InvalidArgument``) a new dataset location that overlaps another's or an import location."""
    for doc in await catalog.datasets.locations():
        if not urls_overlap(url, doc["lake_url"]):
            continue
        if doc["project"] != project:
            raise InvalidArgument(f"the location {url} overlaps a location of another project; "
                                  "choose another lake_url under your project's prefix")
        if not doc.get("deleted"):
            raise InvalidArgument(
                f"the location {url} overlaps the location of dataset {project}/{doc['name']} ({doc['lake_url']}); "
                "datasets never share a location: choose another lake_url (or name)")
    for location in await catalog.import_locations.of_every_project():
        if urls_overlap(url, location["url"]):
            mine = location["project"] == project
            which = f"import location {location['name']!r} of project {project}" if mine else \
                "an import location of another project"
            raise InvalidArgument(f"the location {url} overlaps {which}; a dataset's location is never read as an "
                                  "import source: choose another lake_url (or name)")


def import_location_url(value: object) -> str:
    """The canonical form of an import location URL, or ``InvalidArgument`` naming the rule."""
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f'send {{"url": "s3://bucket/prefix" or "file:///dir"}}, got url={value!r}')
    parts = urlsplit(value)
    example = "use s3://bucket[/prefix] or file:///absolute/dir"
    if parts.scheme not in ("s3", "file"):
        raise InvalidArgument(f"import location {value!r} is not an s3:// or file:// URL; {example}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise InvalidArgument(f"import location {value!r} carries a query or fragment; {example}")
    if parts.scheme == "s3" and (not parts.netloc or _URL_SYNTAX & set(parts.netloc) or "@" in parts.netloc
                                 or ":" in parts.netloc):
        raise InvalidArgument(f"import location {value!r} names no plain bucket; {example}")
    if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
        raise InvalidArgument(f"import location {value!r} is not an absolute local path; {example}")
    path = parts.path.strip("/")
    if path:
        problems = _plain_segments(path)
        if problems:
            raise InvalidArgument(f"import location {value!r} is not a usable location: {'; '.join(problems)}")
    elif parts.scheme == "file":
        raise InvalidArgument(f"import location {value!r} is the file system root; name a directory")
    return f"{parts.scheme}://{parts.netloc}/{path}".rstrip("/")


async def check_readable(url: str) -> None:
    """Refuse a ``file://`` location the catalog cannot read: only a local lake's keys are
    objects to it; any other directory would be opened as a new, empty lake."""
    if urlsplit(url).scheme != "file":
        return
    path = Path(unquote(urlsplit(url).path))
    if await asyncio.to_thread(enclosing_lake, path) is None:
        raise InvalidArgument(
            f"{url} is not inside a local lake (a directory holding index.sqlite3): the catalog reads file:// "
            "locations only as a local lake's keys. Import from the lake itself or from S3.")


async def check_import_location(catalog: Catalog, project: str, name: str, url: str) -> None:
    """Refuse (``InvalidArgument``) an import location that overlaps another project's import
    location or any dataset's location, or that the catalog could not read."""
    for location in await catalog.import_locations.of_every_project():
        if location["project"] != project and urls_overlap(url, location["url"]):
            raise InvalidArgument(
                f"import location {url} overlaps import location {location['name']!r} of project "
                f"{location['project']} ({location['url']}); a location belongs to one project")
    for doc in await catalog.datasets.locations():
        if urls_overlap(url, doc["lake_url"]):
            raise InvalidArgument(
                f"import location {url} overlaps the location of dataset {doc['project']}/{doc['name']} "
                f"({doc['lake_url']}); a dataset's bytes are never an import source")
    await check_readable(url)


def within_any(url: str, roots: list[str]) -> bool:
    """Whether ``url`` lies inside one of ``roots`` (segment by segment)."""
    return any(url_within(url, root) for root in roots)


class ObjectsOutside(InvalidArgument):
    """A commit was refused because some entries' objects lie outside every allowed location."""

    def __init__(self, dataset: str, roots: list[str], found: list[tuple[str, str]], total: int) -> None:
        self.found, self.total = found, total
        listed = "\n".join(f"  - {path!r} → {url}" for path, url in found[:20])
        more = f"\n  … and {total - 20} more" if total > 20 else ""
        imports = ", ".join(roots[1:]) or "none registered"
        super().__init__(
            f"{total} entr{'y points' if total == 1 else 'ies point'} outside dataset {dataset}'s location "
            f"({roots[0]}) and the project's import locations ({imports}); nothing was committed. An object "
            f"must lie inside one of them (an administrator registers import locations):\n{listed}{more}"
        )


class ObjectCheck:
    """Collects a commit's entries whose ``object`` lies outside ``roots`` (the dataset's
    location first, then the project's import locations); ``raise_if_any`` refuses the commit."""

    LISTED = 1000

    def __init__(self, dataset: str, roots: list[str]) -> None:
        self._dataset, self._roots = dataset, roots
        self._found: list[tuple[str, str]] = []
        self._total = 0

    def check(self, path: str, url: str) -> None:
        if within_any(url, self._roots):
            return
        self._total += 1
        if len(self._found) < self.LISTED:
            self._found.append((path, url))

    def raise_if_any(self) -> None:
        if self._total:
            raise ObjectsOutside(self._dataset, self._roots, self._found, self._total)
