"""Settings of the tracker service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class TrackerSection(ServiceSection):
    port: int = Field(8084, ge=0, le=65535, description="HTTP port of the tracker API.")
    artifact_max_bytes: int = Field(
        5 * 1024**3, ge=1, description="Largest artifact file one request may store (bytes); larger ones are "
        "refused with 413 before anything is written.")
    history_max_points: int = Field(
        100_000, ge=1000, le=10_000_000, description="Most points one metric-history page returns; larger "
        "ranges are paged (`next_page_token`) or downsampled (`max_points`).")


class TrackerSettings(LakeCacheSettings):
    section_name = "tracker"

    tracker: TrackerSection = Field(default_factory=TrackerSection, description="The tracker service.")
