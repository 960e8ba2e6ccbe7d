"""Running a service: open its adapters, serve HTTP, subscribe its handlers, shut down cleanly."""

from lakecache.core.runtime.definition import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec
from lakecache.core.runtime.runner import RunningService, run_until_stopped, start_service

__all__ = [
    "Resources",
    "RunningService",
    "ServiceDefinition",
    "ServiceParts",
    "SubscriptionSpec",
    "run_until_stopped",
    "start_service",
]
