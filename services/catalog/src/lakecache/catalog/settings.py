"""Settings of the catalog service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class CatalogSection(ServiceSection):
    port: int = Field(8081, ge=0, le=65535, description="HTTP port of the catalog API.")
    grant_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 86400,
        description="Lifetime of a source grant (the catalog's signed word on where a commit's bytes may be read, "
        "carried by a cache request): how long a request may wait on the bus before the cacher refuses it.",
    )


    upload_url_seconds: int = Field(
        300, ge=30, le=3600,
        description="Lifetime of a presigned upload URL the catalog hands out for one content (S3 lakes): a client "
        "must start the upload within it.",
    )
    upload_max_bytes: int = Field(
        5 * 1024**3, ge=1, le=5 * 1024**3,
        description="Largest content accepted in one upload through the catalog (`PUT …/contents/{sha256}`, lakes "
        "that cannot presign); S3's own limit for one PUT is 5 GiB.",
    )


class CatalogSettings(LakeCacheSettings):
    section_name = "catalog"

    catalog: CatalogSection = Field(default_factory=CatalogSection, description="The catalog service.")
