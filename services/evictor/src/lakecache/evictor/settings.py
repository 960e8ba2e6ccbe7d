"""Settings of the evictor service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field, model_validator

from lakecache.core.settings import LakeCacheSettings, ServiceSection
from lakecache.core.vocabulary.eviction import (
    DEFAULT_HIGH_WATERMARK,
    DEFAULT_LOW_WATERMARK,
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
)
from lakecache.evictor.policy import PolicySettings


class EvictorSection(ServiceSection):
    port: int = Field(8083, ge=0, le=65535, description="HTTP port of the evictor API.")
    tick_seconds: float = Field(
        10.0, gt=0, description="How often idle TTLs and watermarks are checked (the evictor's clock)."
    )
    default_ttl_seconds: int = Field(
        DEFAULT_TTL_SECONDS, gt=0, le=MAX_TTL_SECONDS,
        description="Idle TTL of a copy when neither its commit, its dataset nor its volume sets one (1 second to "
                    "10 years).",
    )
    high_watermark: float = Field(
        DEFAULT_HIGH_WATERMARK, gt=0, le=1,
        description="Default share of a volume's capacity above which copies are evicted.",
    )
    low_watermark: float = Field(
        DEFAULT_LOW_WATERMARK, ge=0, lt=1,
        description="Default share of capacity capacity eviction brings usage below.",
    )
    dry_run: bool = Field(False, description="Decide and explain evictions, but never ask the cacher to run them.")
    redecide_after_seconds: int = Field(
        300, gt=0, description="A decision neither executed nor refused by then may be taken again (lost command)."
    )
    faust_partitions: int = Field(
        6, ge=1, description="Partitions of the topics the Faust app reads (Kafka runtime); must match the topics."
    )

    @model_validator(mode="after")
    def _watermarks_ordered(self) -> "EvictorSection":
        if self.low_watermark >= self.high_watermark:
            raise ValueError(f"low_watermark ({self.low_watermark}) must be below high_watermark "
                             f"({self.high_watermark})")
        return self

    def policy(self) -> PolicySettings:
        return PolicySettings(
            default_ttl_seconds=self.default_ttl_seconds, high_watermark=self.high_watermark,
            low_watermark=self.low_watermark, dry_run=self.dry_run, redecide_after_seconds=self.redecide_after_seconds,
        )


class EvictorSettings(LakeCacheSettings):
    section_name = "evictor"

    evictor: EvictorSection = Field(default_factory=EvictorSection, description="The evictor service.")
