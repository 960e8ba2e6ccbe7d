"""Settings of the catalog service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class CatalogSection(ServiceSection):
    port: int = Field(8081, ge=0, le=65535, description="HTTP port of the catalog API.")


class CatalogSettings(LakeCacheSettings):
    section_name = "catalog"

    catalog: CatalogSection = Field(default_factory=CatalogSection, description="The catalog service.")
