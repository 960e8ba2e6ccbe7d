"""OpenTelemetry and Prometheus set-up shared by every service."""

from lakecache.core.telemetry.setup import Telemetry, configure_telemetry, traced_client_session

__all__ = ["Telemetry", "configure_telemetry", "traced_client_session"]
