"""Settings of the cacher service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.contracts.fields import Slug
from lakecache.core.settings import LakeCacheSettings, ServiceSection


class CacherSection(ServiceSection):
    port: int = Field(8082, ge=0, le=65535, description="HTTP port of the cacher API.")
    site: Slug = Field(
        "local", description="The site this cacher serves; it consumes `lakecache.cache.commands.<site>`."
    )


class CacherSettings(LakeCacheSettings):
    section_name = "cacher"

    cacher: CacherSection = Field(default_factory=CacherSection, description="The cacher service.")
