"""OpenTelemetry and Prometheus set-up shared by every service."""

from lakecache.core.telemetry.setup import Telemetry, configure_telemetry

__all__ = ["Telemetry", "configure_telemetry"]
