"""``GET /api/v1/sites``: every site's volumes with capacity, usage and policy, as their cachers
last reported them (the gateway's read model; no call to any cacher)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Slug
from lakecache.gateway.api.common import API, ListQuery, NextCursor
from lakecache.gateway.auth import Permission
from lakecache.gateway.copies.volumes import SITE_VOLUMES_KEY
from lakecache.gateway.http.operation import Operation
from lakecache.gateway.http.pagination import Keyset, paginate

VOLUMES = Keyset("site-volumes", (("site", 1), ("volume", 1), ("_id", 1)))


class SitesQuery(ListQuery):
    site: Slug | None = Field(None, description="Only this site's volumes.")


class ReportedVolume(BaseModel):
    site: str
    volume: str
    capacity_bytes: int = Field(description="What fills may use on the volume.")
    used_bytes: int
    ttl_seconds: int | None = Field(description="The volume's idle time to live; null: the evictor's default.")
    high_watermark: float | None = Field(description="Usage fraction that starts eviction; null: the default.")
    low_watermark: float | None = Field(description="Usage fraction eviction brings it under; null: the default.")
    reported_at: datetime = Field(description="When its cacher reported this (every fill, eviction and minute).")


class SiteVolumesPage(BaseModel):
    items: list[ReportedVolume]
    next_cursor: NextCursor


async def list_sites(request: web.Request, query: SitesQuery) -> SiteVolumesPage:
    filter_ = {"site": query.site} if query.site else {}
    docs, cursor = await paginate(request.app[SITE_VOLUMES_KEY].collection, filter_, VOLUMES, limit=query.limit,
                                  cursor=query.cursor)
    return SiteVolumesPage(items=[ReportedVolume(**doc) for doc in docs], next_cursor=cursor)


OPERATIONS = [
    Operation("GET", f"{API}/sites", list_sites, "List the sites and their volumes", Permission("sites:read"),
              query=SitesQuery, response=SiteVolumesPage, tag="sites",
              description="Every volume of every site, by site and name, with capacity, usage and eviction policy "
                          "as its cacher last reported them. A site appears once its cacher has reported."),
]
