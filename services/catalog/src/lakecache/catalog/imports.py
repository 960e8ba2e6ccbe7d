"""Import locations: the lake locations an installation administrator registered for a project.

A commit entry's ``object`` may point only inside the dataset's own location or one of these
(checked when the commit is made, and by the cacher before it opens anything), and a
server-side import reads only from inside one of them (``importing.py``). Removing a location
revokes it: grants name the locations registered when they are signed, so commits that point
into a removed location can no longer be cached.
"""

from __future__ import annotations

from typing import Any

from lakecache.catalog import locations
from lakecache.catalog.domain import check_slug
from lakecache.catalog.storage import Catalog
from lakecache.core.errors import Conflict, NotFound
from lakecache.core.vocabulary.clock import iso


async def location_urls(catalog: Catalog, project: str) -> list[str]:
    """The URLs of ``project``'s import locations."""
    return [doc["url"] for doc in await list_locations(catalog, project)]


async def list_locations(catalog: Catalog, project: str) -> list[dict[str, Any]]:
    """``project``'s import locations, by name."""
    return await catalog.import_locations.of_project(project)


async def register(catalog: Catalog, project: str, name: str, url: object, user: str) -> tuple[dict[str, Any], bool]:
    """Register ``url`` as ``project``'s import location ``name``; returns (location, created).

    Registering the same URL again is a no-op; another URL under a taken name is a ``Conflict``
    (remove the old one first, so that revoking a location is always an explicit act).
    """
    check_slug("project", project)
    check_slug("import location name", name)
    canonical = locations.import_location_url(url)
    existing = await catalog.import_locations.by_name(project, name)
    if existing is not None:
        if existing["url"] == canonical:
            return existing, False
        raise Conflict(f"import location {name!r} of project {project} is {existing['url']}, not {canonical}; "
                       "delete it first to point the name elsewhere")
    await locations.check_import_location(catalog, project, name, canonical)
    doc = await catalog.import_locations.add(project, name, canonical, user)
    if doc is None:
        raise Conflict(f"import location {name!r} of project {project} was registered meanwhile; "
                       "list the locations and try again")
    return doc, True


async def remove(catalog: Catalog, project: str, name: str) -> None:
    """Remove ``project``'s import location ``name`` (``NotFound`` when there is none)."""
    if not await catalog.import_locations.remove(project, name):
        raise NotFound(f"project {project} has no import location {name!r}; list them with "
                       f"GET /api/v1/projects/{project}/import-locations")


def location_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"name": doc["name"], "url": doc["url"], "created_at": iso(doc["created_at"]),
            "created_by": doc["created_by"]}
