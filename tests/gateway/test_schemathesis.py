"""Generated requests against the served OpenAPI document: no 5xx, every answer as documented.

The gateway runs as `lakecache up` starts it (shared runtime, embedded store) on 127.0.0.1 in a
thread of its own, since schemathesis calls it synchronously; requests carry the administrator
token from the file the gateway wrote, so they get past authorization into the handlers.
Both valid (positive) and invalid (negative) inputs are generated, a bounded number per
operation, so the test stays well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
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

from lakecache.core.runtime import start_service
from lakecache.gateway.api import api_registry
from lakecache.gateway.bootstrap import SERVICE
from tests.gateway.test_service import embedded

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@contextlib.contextmanager
def served_gateway(home: Path) -> Iterator[str]:
    """The gateway's base URL while it runs on its own event loop in a background thread."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with start_service(SERVICE, embedded(home)) as running:
            started.put(running.base_url)
            await stop.wait()

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
