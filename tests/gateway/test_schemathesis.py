"""Generated requests against the served OpenAPI document: no 5xx, every answer as documented.

The gateway runs as `lakecache up` starts it (shared runtime, embedded store), in front of the
real catalog, cacher and evictor, on 127.0.0.1 in a thread of its own, since schemathesis calls
it synchronously; requests carry the administrator
token from the file the gateway wrote, so they get past authorization into the handlers.
Both valid (positive) and invalid (negative) inputs are generated, a bounded number per
operation, so the test stays well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import run_until_stopped
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.gateway.api import api_registry
from lakecache.gateway.bootstrap import SERVICE
from tests.gateway.test_service import embedded

EXAMPLES = 15


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value) -> dict:
    """Commit uploads: one JSON document per line (schemathesis knows no NDJSON of its own)."""
    lines = value if isinstance(value, list) else [value]
    return {"data": b"".join(json.dumps(line).encode() + b"\n" for line in lines)}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def stack_settings(home: Path) -> list:
    """The catalog, a cacher of one site, the evictor and the gateway, as `lakecache up` runs them."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "volume").mkdir(exist_ok=True)
    bus_url = f"memory://schemathesis-{uuid.uuid4().hex[:8]}"
    return [
        (CATALOG, CATALOG.settings_type(home=home, bus_url=bus_url, catalog={"port": 0})),
        (CACHER, CACHER.settings_type(home=home, bus_url=bus_url, cacher={
            "port": 0, "site": "dgx", "volumes": [{"name": "nfs1", "path": str(home / "volume")}]})),
        (EVICTOR, EVICTOR.settings_type(home=home, bus_url=bus_url, evictor={"port": 0})),
        (SERVICE, embedded(home, bus_url=bus_url)),
    ]


@contextlib.contextmanager
def served_gateway(home: Path) -> Iterator[str]:
    """The gateway's base URL while it and the services behind it run on their own event loop
    in a background thread."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        await run_until_stopped(stack_settings(home), stop=stop,
                                on_started=lambda running: started.put(running[-1].base_url))

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            started.put(exc)

    thread = threading.Thread(target=run, name="gateway", daemon=True)
    thread.start()
    outcome = started.get(timeout=60)
    if isinstance(outcome, BaseException):
        raise outcome
    try:
        yield outcome
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        loop.close()


def test_generated_requests_get_no_server_errors_and_documented_answers(tmp_path):
    home = tmp_path / "home"
    with served_gateway(home) as base_url:
        headers = {"Authorization": f"Bearer {(home / 'admin-token').read_text().strip()}"}
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
        with_inputs = {(o.method, o.path) for o in api_registry() if o.params or o.query or o.body}
        tested = set()
        for result in schema.get_all_operations():
            operation = result.ok()
            key = (operation.method.upper(), operation.path)
            modes = [GenerationMode.POSITIVE]
            if key in with_inputs:
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                          suppress_health_check=list(HealthCheck))
                def check(case) -> None:
                    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

                check()
            tested.add(key)
        # Schemathesis leaves out the operation serving the document it loaded (test_openapi covers it).
        assert tested == {(o.method, o.path) for o in api_registry()} - {("GET", "/api/v1/openapi.json")}
