"""``GET /api/v1/sites``: every site's volumes with capacity, usage and policy, as their cachers
last reported them (the gateway's read model; no call to any cacher). A volume its cacher
withdrew (it breaks the volume rules now) stays listed, with ``withdrawn`` saying why, until a
report says it is usable again."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Slug
from lakecache.gateway.api.common import API, ListQuery, NextCursor
from lakecache.gateway.auth import Permission
from lakecache.gateway.http.operation import Operation
from lakecache.gateway.repositories.site_volumes import SiteVolumeRepository

#: The read model of the sites' volumes (fed by ``lakecache.gateway.copies.handlers``).
SITE_VOLUMES_KEY = web.AppKey("lakecache_site_volumes", SiteVolumeRepository)


class SitesQuery(ListQuery):
    site: Slug | None = Field(None, description="Only this site's volumes.")


class ReportedVolume(BaseModel):
    site: str
    volume: str
    # The figures are those of the last report; null only for a volume withdrawn before any report arrived.
    capacity_bytes: int | None = Field(None, description="What LakeCache may hold on the volume: the configured "
                                                         "capacity, else the filesystem's size.")
    used_bytes: int | None = Field(None, description="What the volume's filesystem holds (on a shared filesystem, "
                                                     "other data too).")
    cached_bytes: int | None = Field(None, description="What LakeCache holds on the volume (its content pool, each "
                                                       "content once): what a configured capacity bounds and the "
                                                       "watermarks then compare with it; null in older reports.")
    capacity_configured: bool | None = Field(None, description="Whether the capacity was configured (else it is the "
                                                               "filesystem's size and `used_bytes` counts against it); "
                                                               "null in older reports.")
    filesystem_free_bytes: int | None = Field(None, description="The filesystem's free space, the other bound of "
                                                                "fills; null in older reports.")
    ttl_seconds: int | None = Field(None, description="The volume's idle time to live; null: the evictor's default.")
    high_watermark: float | None = Field(None, description="Usage fraction that starts eviction; null: the default.")
    low_watermark: float | None = Field(None, description="Usage fraction eviction brings it under; null: the default.")
    withdrawn: str | None = Field(None, description="Why its cacher no longer uses the volume (it breaks the volume "
                                                    "rules now: nothing is filled or evicted there); null: usable.")
    reported_at: datetime = Field(description="When its cacher last reported on it (every fill, eviction and minute; "
                                              "for a withdrawn volume, its withdrawal).")


class SiteVolumesPage(BaseModel):
    items: list[ReportedVolume]
    next_cursor: NextCursor


async def list_sites(request: web.Request, query: SitesQuery) -> SiteVolumesPage:
    docs, cursor = await request.app[SITE_VOLUMES_KEY].page(site=query.site, limit=query.limit, cursor=query.cursor)
    return SiteVolumesPage(items=[ReportedVolume(**doc) for doc in docs], next_cursor=cursor)


OPERATIONS = [
    Operation("GET", f"{API}/sites", list_sites, "List the sites and their volumes", Permission("sites:read"),
              query=SitesQuery, response=SiteVolumesPage, tag="sites",
              description="Every volume of every site, by site and name, with capacity, usage and eviction policy "
                          "as its cacher last reported them. A site appears once its cacher has reported. A volume "
                          "its cacher withdrew shows why in `withdrawn` (it is not usable until reported again)."),
]
