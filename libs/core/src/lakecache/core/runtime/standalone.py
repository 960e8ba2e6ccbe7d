"""``python -m lakecache.<service>``: run one service in its own process."""

from __future__ import annotations

import asyncio
import logging
import sys

from lakecache.core.adapters.registry import bus_is_shared
from lakecache.core.errors import LakeCacheError
from lakecache.core.runtime.definition import ServiceDefinition
from lakecache.core.runtime.runner import run_until_stopped


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_standalone(definition: ServiceDefinition) -> None:
    """Load the service's settings, run it until SIGINT/SIGTERM, exit non-zero on a setup error."""
    try:
        settings = definition.settings_type()
        configure_logging(settings.log_level)
        if not bus_is_shared(settings.bus_url):
            logging.getLogger(__name__).warning(
                "%s runs alone on the in-memory bus: no other process can reach it. Set "
                "LAKECACHE_BUS_URL=kafka://… or use `lakecache up` to run all services together.",
                definition.name,
            )
        asyncio.run(run_until_stopped([(definition, settings)]))
    except LakeCacheError as exc:
        print(f"lakecache-{definition.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
