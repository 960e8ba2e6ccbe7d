"""``GatewayClient``: one session with the token for everything the CLI and ``CopyLease`` do, and
errors of its own by meaning — each also the port error callers already catch."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from lakecache.cli.live import follow_copy
from lakecache.core.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unavailable
from lakecache.sdk.caches import copy_path
from lakecache.sdk.gateway import (
    GatewayClient,
    GatewayConflict,
    GatewayForbidden,
    GatewayInvalid,
    GatewayNotFound,
    GatewayUnauthenticated,
    GatewayUnavailable,
)
from lakecache.sdk.leases import CopyLease
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_SITE, STACK_VOLUME
from tests.support.waiting import eventually

FILES = {"train/0.bin": b"zero", "train/1.bin": b"one"}


@pytest.mark.parametrize(("status", "kind", "port_error"), [
    (401, GatewayUnauthenticated, None),
    (403, GatewayForbidden, PermissionDenied),
    (404, GatewayNotFound, NotFound),
    (409, GatewayConflict, Conflict),
    (412, GatewayConflict, Conflict),
    (400, GatewayInvalid, InvalidArgument),
    (413, GatewayInvalid, InvalidArgument),
    (503, GatewayUnavailable, Unavailable),
])
async def test_each_refusal_is_the_gateway_error_of_its_meaning(tmp_path, status, kind, port_error):
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"title": "Refused", "detail": f"refused with {status}",
                                  "errors": [{"location": "path.name", "message": "not a name"}]}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    async with TestServer(app) as server:
        settings = ClientSettings(api_url=str(server.make_url("")), token=SecretStr("lct_x"), home=tmp_path)
        async with GatewayClient(settings) as gateway:
            with pytest.raises(kind) as refused:
                await gateway.copy_status("team", "dgx", "c" * 64)
    error = refused.value
    assert type(error) is kind and (port_error is None or isinstance(error, port_error))
    assert (error.status, error.detail, error.errors) == (
        status, f"refused with {status}", [{"location": "path.name", "message": "not a name"}])
    assert str(error).startswith(f"show project team's copy of {'c' * 64} at site dgx: ")
    assert "path.name: not a name" in str(error)


async def test_an_unreachable_gateway_is_unavailable(tmp_path):
    settings = ClientSettings(api_url="http://127.0.0.1:9", token=SecretStr("lct_x"), home=tmp_path)
    async with GatewayClient(settings) as gateway:
        with pytest.raises(GatewayUnavailable, match="cannot reach the gateway at http://127.0.0.1:9"):
            await gateway.volumes("dgx")


async def cached(gateway: GatewayClient, tmp_path) -> str:
    """``team/ds`` synced from ``FILES``, requested at the site and followed to ready; its commit id."""
    await gateway.create_dataset("team", "ds")
    commit = (await sync_directory(gateway, DatasetRef("team", "ds"), write_tree(tmp_path / "data", FILES),
                                   message="first")).commit
    accepted = await gateway.request_cache("team", "ds", STACK_SITE)
    assert accepted["status_url"] == copy_path("team", STACK_SITE, commit["id"])
    seen: list[dict] = []
    final = await follow_copy(gateway, accepted["events_url"], what="follow", on_status=seen.append)
    assert final["state"] == "ready" and seen[-1] == final
    return commit["id"]


async def test_one_client_requests_lists_pins_leases_and_explains_a_copy(stack, tmp_path):
    admin = ClientSettings(api_url=stack.base_url, token=SecretStr(stack.token), home=tmp_path / "no-home",
                           cache_dir=tmp_path / "client-cache")
    async with GatewayClient(admin) as gateway:
        commit_id = await cached(gateway, tmp_path)
        [volume] = (await gateway.copy_status("team", STACK_SITE, commit_id))["volumes"]
        assert (volume["volume"], volume["files_done"], volume["files_total"]) == (STACK_VOLUME, 2, 2)
        assert [c["commit_id"] async for c in gateway.project_copies("team")] == [commit_id]
        assert [(c["volume"], c["state"]) async for c in gateway.site_copies(STACK_SITE, project="team")] == [
            (STACK_VOLUME, "ready")]
        assert [c async for c in gateway.site_copies(STACK_SITE, project="team", state="failed")] == []

        assert (await gateway.pin("team", STACK_SITE, commit_id))["pinned"] is True
        await eventually(lambda: pinned(gateway, commit_id, True), message="the status to show the pin")
        assert (await gateway.unpin("team", STACK_SITE, commit_id))["pinned"] is False
        await eventually(lambda: pinned(gateway, commit_id, False), message="the status to show the unpin")

        lease = await gateway.acquire_lease("team", STACK_SITE, commit_id, holder="job-9", ttl_seconds=60)
        assert (lease["holder"], lease["volume"], lease["ttl_seconds"]) == ("job-9", STACK_VOLUME, 60)
        renewed = await gateway.renew_lease("team", STACK_SITE, commit_id, lease["id"], ttl_seconds=120)
        assert (renewed["id"], renewed["ttl_seconds"]) == (lease["id"], 120)
        await gateway.release_lease("team", STACK_SITE, commit_id, lease["id"])
        with pytest.raises(GatewayNotFound):
            await gateway.renew_lease("team", STACK_SITE, commit_id, lease["id"])

        async def explained() -> bool:
            try:
                return (await gateway.explain_eviction("team", STACK_SITE, commit_id))["state"] == "ready"
            except GatewayNotFound:  # the evictor has not seen the copy ready yet
                return False

        await eventually(explained, message="the evictor to explain the copy")
        assert STACK_VOLUME in [v["name"] for v in await gateway.volumes(STACK_SITE)]
        assert (await gateway.volume(STACK_SITE, STACK_VOLUME))["name"] == STACK_VOLUME
        assert (await gateway.set_ttl(STACK_SITE, "commit", commit_id, 7200))["accepted"] is True

        async def ttl_of_the_commit() -> bool:
            found = await gateway.explain_eviction("team", STACK_SITE, commit_id)
            return (found["ttl_source"], found["ttl_seconds"]) == ("commit", 7200)

        await eventually(ttl_of_the_commit, message="the evictor to apply the commit's TTL")
        assert (await gateway.site_eviction(STACK_SITE))["site"] == STACK_SITE

        async def site_listed() -> bool:
            listed = [(v["site"], v["volume"]) async for v in gateway.sites(site=STACK_SITE)]
            return listed == [(STACK_SITE, STACK_VOLUME)]

        await eventually(site_listed, message="the gateway to list the site's reported volume")


async def pinned(gateway: GatewayClient, commit_id: str, expected: bool) -> bool:
    [volume] = (await gateway.copy_status("team", STACK_SITE, commit_id))["volumes"]
    return volume["pinned"] is expected


async def test_copy_lease_raises_the_gateways_errors(stack, tmp_path):
    admin = ClientSettings(api_url=stack.base_url, token=SecretStr(stack.token), home=tmp_path / "no-home",
                           cache_dir=tmp_path / "client-cache")
    async with GatewayClient(admin) as gateway:
        await gateway.create_dataset("team", "ds")
        commit = (await sync_directory(gateway, DatasetRef("team", "ds"), write_tree(tmp_path / "data", FILES),
                                       message="first")).commit
    with pytest.raises(GatewayNotFound, match="no copy of commit"):  # never requested at the site
        async with CopyLease(STACK_SITE, commit["id"], project="team", settings=admin):
            pass

    # The lake's data objects (not the gzip manifest) no longer match the commit's hashes: the fill fails.
    for blob in (stack.home / "lake" / "blobs").rglob("*"):
        if blob.is_file() and blob.read_bytes()[:2] != b"\x1f\x8b":
            blob.write_bytes(b"tampered")
    async with GatewayClient(admin) as gateway:
        accepted = await gateway.request_cache("team", "ds", STACK_SITE)
        final = await follow_copy(gateway, accepted["events_url"], what="follow", on_status=lambda status: None)
    assert final["state"] == "failed"
    with pytest.raises(GatewayConflict, match="the copy is failed, not ready"):
        async with CopyLease(STACK_SITE, commit["id"], project="team", settings=admin):
            pass
