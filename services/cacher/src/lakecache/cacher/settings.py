"""Settings of the cacher service (shared parts: `lakecache.core.settings`)."""

from typing import Literal

from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Slug
from lakecache.core.settings import LakeCacheSettings, ServiceSection
from lakecache.core.vocabulary.eviction import (
    DEFAULT_HIGH_WATERMARK,
    DEFAULT_LOW_WATERMARK,
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
)

#: Largest capacity a document store holds as an integer (signed 64 bits).
MAX_CAPACITY_BYTES = 2**63 - 1


class VolumeSetting(BaseModel):
    """A volume declared in settings; registered (or updated) when the cacher starts."""

    name: Slug = Field(description="Volume name, unique within the site.")
    path: str = Field(description="Canonical absolute path of an existing, writable directory (the NFS mount): no "
                      "symlink, `..` or trailing slash, not a system location, not inside or containing another "
                      "volume (see docs/cacher.md).")
    capacity_bytes: int | None = Field(None, gt=0, le=MAX_CAPACITY_BYTES,
                                       description="Bytes LakeCache may hold on the volume (its content pool; the "
                                       "filesystem's free space bounds fills too); null: the filesystem's size, "
                                       "against which its whole usage counts.")
    ttl_seconds: int | None = Field(
        None, gt=0, le=MAX_TTL_SECONDS, description="Unused copies older than this may be evicted (at most ten "
        f"years); null: the evictor's default ({DEFAULT_TTL_SECONDS // 86400} day)."
    )
    high_watermark: float | None = Field(
        None, gt=0, le=1, description="Fraction of capacity that starts capacity eviction; null: the evictor's "
        f"default ({DEFAULT_HIGH_WATERMARK})."
    )
    low_watermark: float | None = Field(
        None, gt=0, le=1, description="Fraction of capacity capacity eviction stops at; null: the evictor's "
        f"default ({DEFAULT_LOW_WATERMARK})."
    )


class CacherSection(ServiceSection):
    port: int = Field(8082, ge=0, le=65535, description="HTTP port of the cacher API.")
    site: Slug = Field(
        "local", description="The site this cacher serves; it consumes `lakecache.cache.commands.<site>`."
    )
    volumes: list[VolumeSetting] = Field(
        default_factory=list,
        description='Volumes registered at start, e.g. `[{"name": "nfs1", "path": "/mnt/nfs1"}]`; more can be '
        "added through `POST /api/v1/sites/<site>/volumes`. The cacher refuses to start when one breaks the volume "
        "rules (docs/cacher.md).",
    )
    volume_roots: list[str] = Field(
        default_factory=list,
        description="When set, every volume must lie inside one of these directories (canonical absolute paths, "
        'e.g. `["/mnt/cache"]`); registrations elsewhere are refused. Empty: any directory the volume rules allow.',
    )
    view_mode: Literal["world", "group", "owner"] = Field(
        "world",
        description="Who may read published views (and the pool files they link): `world` (directories 0555, "
        "files 0444: jobs of any OS user), `group` (0550/0440: the files' group, the cacher's own or the volume "
        "directory's when it is setgid) or `owner` (0500/0400: the cacher's OS user only). Applies to what is "
        "published from then on.",
    )
    lake_roots: list[str] = Field(
        default_factory=list,
        description="The only lake locations fills may read from (`s3://bucket[/prefix]`, `file:///dir`): a "
        "dataset's location and every imported object must lie inside one. Default: the service's `lake_url`.",
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
    read_sampling_seconds: float = Field(
        300.0, ge=0, description="How often the access times of every ready copy's view are sampled, so that jobs "
        "reading a view without the SDK count as use (docs/cacher.md, \"Reads seen on the volume\"); a read is "
        "known at most this long after it happened. 0: not sampled (only the SDK's reports count)."
    )
    progress_interval_seconds: float = Field(
        0.5, ge=0.5, description="Minimum seconds between two progress events of one fill (at most 2/s)."
    )


class CacherSettings(LakeCacheSettings):
    section_name = "cacher"

    cacher: CacherSection = Field(default_factory=CacherSection, description="The cacher service.")
