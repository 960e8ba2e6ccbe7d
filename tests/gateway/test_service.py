"""The gateway as `lakecache up` starts it: the shared runtime, an embedded store, the admin token file."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import aiohttp

from lakecache.core.runtime import start_service
from lakecache.gateway.bootstrap import SERVICE
from lakecache.gateway.settings import GatewaySection, GatewaySettings


def embedded(home: Path, bus_url: str | None = None, **gateway) -> GatewaySettings:
    home.mkdir(exist_ok=True)  # as `lakecache up` does before starting the services
    return GatewaySettings(home=home, bus_url=bus_url or f"memory://gateway-{uuid.uuid4().hex[:8]}",
                           gateway=GatewaySection(port=0, **gateway))


async def get(session: aiohttp.ClientSession, url: str, token: str | None = None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as response:
        body = await response.json() if response.content_type.endswith("json") else await response.text()
        return response.status, body


async def test_a_first_start_writes_a_private_admin_token_that_the_api_accepts(tmp_path):
    home = tmp_path / "home"
    async with start_service(SERVICE, embedded(home)) as running, aiohttp.ClientSession() as session:
        token_file = home / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        base = running.base_url
        assert (await get(session, f"{base}/healthz"))[0] == 200
        assert (await get(session, f"{base}/readyz"))[0] == 200
        assert (await get(session, f"{base}/api/v1/me"))[0] == 401
        status, me = await get(session, f"{base}/api/v1/me", token)
        assert status == 200 and (me["kind"], me["name"], me["global_admin"]) == ("user", "admin", True)
        assert (await get(session, f"{base}/metrics"))[0] == 401
        assert (await get(session, f"{base}/metrics", token))[0] == 200
        assert (await get(session, f"{base}/api/v1/openapi.json"))[0] == 200

    # A restart keeps the file and its token.
    async with start_service(SERVICE, embedded(home)) as running, aiohttp.ClientSession() as session:
        assert (home / "admin-token").read_text().strip() == token
        assert (await get(session, f"{running.base_url}/api/v1/me", token))[0] == 200


async def test_without_bootstrap_admin_no_token_file_is_written(tmp_path):
    home = tmp_path / "home"
    async with start_service(SERVICE, embedded(home, bootstrap_admin=False, public_metrics=True)) as running, \
            aiohttp.ClientSession() as session:
        assert not (home / "admin-token").exists()
        assert (await get(session, f"{running.base_url}/metrics"))[0] == 200
