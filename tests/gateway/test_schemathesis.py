"""Generated requests against the served OpenAPI document: no 5xx, every answer as documented.

The gateway runs as `lakecache up` starts it (shared runtime, embedded store), in front of the
real catalog, cacher and evictor, on 127.0.0.1 in a thread of its own, since schemathesis calls
it synchronously; requests carry the administrator
token from the file the gateway wrote, so they get past authorization into the handlers.
Both valid (positive) and invalid (negative) inputs are generated, a bounded number per
operation, so the test stays well under a minute.
"""

from __future__ import annotations

import contextlib
import json
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

from lakecache.gateway.api import api_registry
from tests.support.stack import served_stack

EXAMPLES = 15


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value) -> dict:
    """Commit uploads: one JSON document per line (schemathesis knows no NDJSON of its own)."""
    lines = value if isinstance(value, list) else [value]
    return {"data": b"".join(json.dumps(line).encode() + b"\n" for line in lines)}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@contextlib.contextmanager
def served_gateway(home: Path, volume: Path) -> Iterator[str]:
    with served_stack(home, volume) as stack:
        yield stack.base_url


def test_generated_requests_get_no_server_errors_and_documented_answers(tmp_path):
    home = tmp_path / "home"
    # The volume lies outside the home: a cacher refuses a volume over its own files.
    with served_gateway(home, tmp_path / "volume") as base_url:
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
