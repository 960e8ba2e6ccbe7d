"""The service runtime: probes, metrics, subscriptions and background work, clean shutdown."""

import asyncio
import uuid

import aiohttp
import pytest
from aiohttp import web

from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.contracts.usage import DatasetRead
from lakecache.core.dispatch import dispatcher
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec, start_service
from lakecache.core.runtime.access import Access, route
from lakecache.core.settings import LakeCacheSettings, ServiceSection
from tests.support.identity import assertion_headers, gateway_keys
from tests.support.waiting import eventually


class ProbeSettings(LakeCacheSettings):
    section_name = "probe"
    probe: ServiceSection = ServiceSection()


def settings_for(tmp_path, **overrides):
    return ProbeSettings(home=tmp_path, bus_url=f"memory://rt-{uuid.uuid4().hex[:6]}", **overrides)


async def get(url, headers=None):
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_catalog_service_answers_probes_with_its_store_and_bus_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKECACHE_CATALOG__PORT", "0")
    settings = CATALOG.settings_type(home=tmp_path, bus_url="memory://catalog-probe")
    async with start_service(CATALOG, settings) as running:
        status, _, body = await get(running.base_url + "/healthz")
        assert status == 200 and '"catalog"' in body
        status, _, body = await get(running.base_url + "/readyz")
        assert status == 200
        assert '"bus": "ok"' in body and '"store": "ok"' in body
        status, _, _ = await get(running.base_url + "/metrics")
        assert status == 401  # internal metrics need the installation's metrics token
        token = (tmp_path / "keys" / "metrics-token").read_text().strip()
        status, content_type, body = await get(running.base_url + "/metrics", {"Authorization": f"Bearer {token}"})
        assert status == 200 and content_type.startswith("text/plain")
        assert "lakecache_bus_published_messages" in body
    assert (tmp_path / "catalog.db").exists()
    assert (tmp_path / "lake").is_dir()


async def test_failing_dependency_makes_readyz_503_with_the_reason(tmp_path):
    async def broken_volume():
        raise OSError("volume /mnt/nfs1 is not mounted")

    async def bootstrap(resources: Resources) -> ServiceParts:
        return ServiceParts(ready_checks={"volume": broken_volume})

    definition = ServiceDefinition("probe", ProbeSettings, bootstrap)
    async with start_service(definition, settings_for(tmp_path)) as running:
        status, _, body = await get(running.base_url + "/readyz")
    assert status == 503
    assert "volume /mnt/nfs1 is not mounted" in body and '"bus": "ok"' in body


async def test_subscriptions_routes_and_background_work_run_and_stop_cleanly(tmp_path):
    handled, ticks, stopped = [], [], []

    async def on_read(event):
        handled.append(event.data.reader)

    async def ticker():
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def hello(request):
        return web.json_response({"hello": "world"})

    async def bootstrap(resources: Resources) -> ServiceParts:
        async def closing():
            stopped.append(True)

        return ServiceParts(
            routes=[route("GET", "/api/v1/hello", hello, Access("sites:read"))],
            subscriptions=[SubscriptionSpec(["lakecache.usage"], "probe", dispatcher({DatasetRead: on_read}))],
            background=[ticker],
            on_shutdown=[closing],
        )

    definition = ServiceDefinition("probe", ProbeSettings, bootstrap)
    async with start_service(definition, settings_for(tmp_path)) as running:
        await running.resources.publisher.emit(
            DatasetRead(project="p", site="s", dataset_id="d", commit_id="e" * 64, reader="job-7", cache_hit=True)
        )
        await eventually(lambda: handled == ["job-7"] and ticks, message="handler and ticker ran")
        assert (await get(running.base_url + "/api/v1/hello"))[0] == 401
        signed = assertion_headers(gateway_keys(tmp_path), "probe", "GET", "/api/v1/hello", action="sites:read",
                                   project=None)
        status, _, body = await get(running.base_url + "/api/v1/hello", signed)
        assert (status, body) == (200, '{"hello": "world"}')
        base_url = running.base_url
        task = next(t for t in asyncio.all_tasks() if t.get_name() == "probe:ticker")
    assert stopped == [True]
    assert task.cancelled()
    try:
        await get(base_url + "/healthz")
        raise AssertionError("the HTTP server still answers after shutdown")
    except aiohttp.ClientConnectionError:
        pass


async def test_a_service_with_an_undeclared_route_refuses_to_start(tmp_path):
    async def hello(request):
        return web.json_response({})

    async def bootstrap(resources: Resources) -> ServiceParts:
        return ServiceParts(routes=[web.get("/api/v1/open", hello, allow_head=False)])

    with pytest.raises(RuntimeError, match="declare no action: GET /api/v1/open"):
        async with start_service(ServiceDefinition("probe", ProbeSettings, bootstrap), settings_for(tmp_path)):
            pass


async def test_http_requests_are_traced_as_server_spans_of_the_service(tmp_path):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()

    async def bootstrap(resources: Resources) -> ServiceParts:
        return ServiceParts()

    definition = ServiceDefinition("probe", ProbeSettings, bootstrap)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    processors = (SimpleSpanProcessor(exporter),)
    async with start_service(definition, settings_for(tmp_path), span_processors=processors) as running:
        async with aiohttp.ClientSession() as session:
            async with session.get(running.base_url + "/healthz", headers={"traceparent": traceparent}) as response:
                assert response.status == 200
    server = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(server) == 1
    assert format(server[0].context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server[0].resource.attributes["service.name"] == "lakecache-probe"


async def test_a_traced_client_call_and_the_server_span_share_one_trace(tmp_path):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from lakecache.core.telemetry import configure_telemetry, traced_client_session

    exporter = InMemorySpanExporter()
    caller = configure_telemetry("gateway", extra_processors=(SimpleSpanProcessor(exporter),))

    async def bootstrap(resources: Resources) -> ServiceParts:
        return ServiceParts()

    definition = ServiceDefinition("probe", ProbeSettings, bootstrap)
    processors = (SimpleSpanProcessor(exporter),)
    async with start_service(definition, settings_for(tmp_path), span_processors=processors) as running:
        async with traced_client_session(caller) as session, session.get(running.base_url + "/readyz") as response:
            assert response.status == 200
    spans = exporter.get_finished_spans()
    client = next(s for s in spans if s.kind is SpanKind.CLIENT)
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    assert server.context.trace_id == client.context.trace_id
    assert server.parent.span_id == client.context.span_id
    assert client.resource.attributes["service.name"] == "lakecache-gateway"
    assert server.resource.attributes["service.name"] == "lakecache-probe"


async def test_a_long_percent_encoded_query_reaches_the_service_instead_of_the_http_parsers_plain_text(tmp_path):
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"length": len(request.query["q"])})

    async def bootstrap(resources: Resources) -> ServiceParts:
        return ServiceParts(routes=[web.get("/echo", echo)])

    definition = ServiceDefinition("probe", ProbeSettings, bootstrap, internal=False)
    # 4,096 characters (the gateway's bound on a query value, answered as a problem document)
    # take 24 KiB percent-encoded: past aiohttp's default request line of 8,190 bytes.
    async with start_service(definition, settings_for(tmp_path)) as running:
        status, _, body = await get(running.base_url + "/echo?q=" + "%C2%B0" * 4096)
    assert (status, body) == (200, '{"length": 4096}')
