"""Calling a service's HTTP API from tests: one reply shape for every service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str


async def call(session: aiohttp.ClientSession, base_url: str, method: str, path: str, *, json_body: Any = None,
               data: bytes | None = None, headers: dict[str, str] | None = None,
               params: dict[str, Any] | None = None) -> Reply:
    """Send one request; the body comes back parsed from JSON (or None when empty)."""
    params = {k: str(v) for k, v in (params or {}).items() if v is not None}
    async with session.request(method, base_url + path, json=json_body, data=data, headers=headers,
                               params=params) as response:
        text = await response.text()
        return Reply(response.status, json.loads(text) if text else None, response.content_type)
