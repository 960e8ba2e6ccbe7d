"""The backing services' base URLs and the one HTTP client session that reaches them.

The session belongs to the app (opened and closed by :meth:`Upstreams.client_context`, an
aiohttp ``cleanup_ctx``), so no connection is opened at import or construction, and every
request to a backend reuses the pool and carries the trace context (a CLIENT span per call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from prometheus_client import Histogram

from lakecache.core.identity import SigningKey
from lakecache.core.telemetry import Telemetry
from lakecache.core.telemetry.setup import traced_client_session


@dataclass
class Upstreams:
    catalog: str
    evictor: str
    default_cacher: str
    #: The gateway's key: every forwarded request carries an assertion it signed.
    signing_key: SigningKey
    tracker: str = "http://127.0.0.1:8084"
    cachers: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 60.0
    assertion_ttl_seconds: float = 60.0
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)
    _latency: Histogram | None = field(default=None, repr=False)

    def name_of(self, base: str) -> str:
        """Which service ``base`` is (``cacher`` for every site's): the audience of its assertions."""
        if base == self.catalog:
            return "catalog"
        if base == self.evictor:
            return "evictor"
        return "tracker" if base == self.tracker else "cacher"

    def observe(self, base: str, outcome: str, seconds: float) -> None:
        if self._latency is not None:
            self._latency.labels(self.name_of(base), outcome).observe(seconds)

    def cacher(self, site: str) -> str:
        """The cacher serving ``site`` (a cacher runs at its site, next to its volumes)."""
        return self.cachers.get(site, self.default_cacher)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the gateway's upstream session is not open: is the app running?")
        return self._session

    def client_context(self, telemetry: Telemetry):
        """The aiohttp ``cleanup_ctx`` that owns the session for the app's lifetime."""

        if self._latency is None:
            self._latency = Histogram(
                "lakecache_gateway_upstream_seconds", "Calls from the gateway to the services behind it, by service "
                "and outcome (the status class, or `unavailable`)", ["service", "outcome"], registry=telemetry.registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60))

        async def context(app: web.Application) -> AsyncIterator[None]:
            # sock_read bounds silence, not the whole call: a long commit upload keeps going.
            timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=self.timeout_seconds)
            self._session = traced_client_session(telemetry, timeout=timeout, raise_for_status=False)
            try:
                yield
            finally:
                session, self._session = self._session, None
                await session.close()

        return context


UPSTREAMS_KEY = web.AppKey("lakecache_upstreams", Upstreams)


def upstreams_of(request: web.Request) -> Upstreams:
    return request.app[UPSTREAMS_KEY]
