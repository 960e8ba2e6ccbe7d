"""Settings of the evictor service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class EvictorSection(ServiceSection):
    port: int = Field(8083, ge=0, le=65535, description="HTTP port of the evictor API.")


class EvictorSettings(LakeCacheSettings):
    section_name = "evictor"

    evictor: EvictorSection = Field(default_factory=EvictorSection, description="The evictor service.")
