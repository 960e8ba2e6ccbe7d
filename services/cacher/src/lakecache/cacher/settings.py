"""Settings of the cacher service (shared parts: `lakecache.core.settings`)."""

from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Slug
from lakecache.core.settings import LakeCacheSettings, ServiceSection


class VolumeSetting(BaseModel):
    """A volume declared in settings; registered (or updated) when the cacher starts."""

    name: Slug = Field(description="Volume name, unique within the site.")
    path: str = Field(description="Absolute path of an existing, writable directory (the NFS mount).")
    capacity_bytes: int | None = Field(None, gt=0, description="Capacity to manage; null: what the filesystem reports.")
    ttl_seconds: int | None = Field(
        None, gt=0, description="Unused copies older than this may be evicted; null: the evictor's default (1 day)."
    )
    high_watermark: float | None = Field(
        None, gt=0, le=1, description="Fraction of capacity that starts capacity eviction; null: the evictor's "
        "default (0.9)."
    )
    low_watermark: float | None = Field(
        None, gt=0, le=1, description="Fraction of capacity capacity eviction stops at; null: the evictor's "
        "default (0.75)."
    )


class CacherSection(ServiceSection):
    port: int = Field(8082, ge=0, le=65535, description="HTTP port of the cacher API.")
    site: Slug = Field(
        "local", description="The site this cacher serves; it consumes `lakecache.cache.commands.<site>`."
    )
    volumes: list[VolumeSetting] = Field(
        default_factory=list,
        description='Volumes registered at start, e.g. `[{"name": "nfs1", "path": "/mnt/nfs1"}]`; more can be '
        "added through `POST /api/v1/sites/<site>/volumes`.",
    )
    fills_per_volume: int = Field(2, ge=1, description="Fills running at once on one volume; others wait their turn.")
    space_wait_seconds: float = Field(
        60.0, ge=0, description="How long a fill that lacks space waits for the evictor to free it before failing."
    )
    space_poll_seconds: float = Field(2.0, gt=0, description="How often a fill waiting for space re-checks free space.")
    volume_report_seconds: float = Field(
        60.0, gt=0, description="How often every volume's capacity and usage is reported to the evictor "
        "(also after each fill and eviction)."
    )
    progress_interval_seconds: float = Field(
        0.5, ge=0.5, description="Minimum seconds between two progress events of one fill (at most 2/s)."
    )


class CacherSettings(LakeCacheSettings):
    section_name = "cacher"

    cacher: CacherSection = Field(default_factory=CacherSection, description="The cacher service.")
