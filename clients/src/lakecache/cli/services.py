"""The services the CLI can run, imported only when asked for (the SDK needs none of them)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lakecache.core.errors import ConfigurationError

if TYPE_CHECKING:  # the runtime is imported with the service it runs, not with the CLI
    from lakecache.core.runtime import ServiceDefinition

#: name -> module exporting ``SERVICE``; ``lakecache up`` starts them in this order.
SERVICES: dict[str, str] = {
    "catalog": "lakecache.catalog.bootstrap",
    "cacher": "lakecache.cacher.bootstrap",
    "evictor": "lakecache.evictor.bootstrap",
    "tracker": "lakecache.tracker.bootstrap",
    "gateway": "lakecache.gateway.bootstrap",
}


def load_service(name: str) -> ServiceDefinition:
    """The definition of service ``name``; a clear error if it is unknown or not installed."""
    module_name = SERVICES.get(name)
    if module_name is None:
        raise ConfigurationError(f"unknown service {name!r}: choose one of {', '.join(SERVICES)}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"service {name!r} is not installed ({exc.name} missing): install `lakecache[server]` "
            f"or `lakecache-{name}`"
        ) from exc
    return module.SERVICE
