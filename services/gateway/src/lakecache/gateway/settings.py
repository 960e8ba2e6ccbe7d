"""Settings of the gateway service (shared parts: `lakecache.core.settings`)."""

from pydantic import Field

from lakecache.core.settings import LakeCacheSettings, ServiceSection


class GatewaySection(ServiceSection):
    port: int = Field(8080, ge=0, le=65535, description="HTTP port of the gateway API.")


class GatewaySettings(LakeCacheSettings):
    section_name = "gateway"

    gateway: GatewaySection = Field(default_factory=GatewaySection, description="The gateway service.")
