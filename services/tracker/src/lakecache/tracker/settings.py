"""Settings of the tracker service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class TrackerSection(ServiceSection):
    port: int = Field(8084, ge=0, le=65535, description="HTTP port of the tracker API.")


class TrackerSettings(LakeCacheSettings):
    section_name = "tracker"

    tracker: TrackerSection = Field(default_factory=TrackerSection, description="The tracker service.")
