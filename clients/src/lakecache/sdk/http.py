"""Talking to the gateway: one session with the token, one request at a time, its RFC 9457
problem turned into a ``GatewayError`` (``lakecache.sdk.errors``) people can act on.

``GatewaySession`` owns the session and the paging of listings; the calls themselves live in
``lakecache.sdk.datasets`` and ``lakecache.sdk.caches`` and meet in ``GatewayClient``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Self

import aiohttp

from lakecache.sdk.errors import GatewayUnavailable, problem_error
from lakecache.sdk.settings import ClientSettings

#: Where the gateway's API lives.
API = "/api/v1"


def stream_timeout(settings: ClientSettings) -> aiohttp.ClientTimeout:
    """For a request whose body or answer may take long (an upload, a live-progress stream): no
    overall deadline, only ``request_timeout`` seconds of silence."""
    return aiohttp.ClientTimeout(total=None, sock_connect=settings.request_timeout,
                                 sock_read=settings.request_timeout)


async def request_json(session: aiohttp.ClientSession, base_url: str, method: str, path: str, *, what: str,
                       params: dict[str, Any] | None = None, json_body: Any = None, data: Any = None,
                       headers: dict[str, str] | None = None) -> Any:
    """One request to the gateway at ``base_url``: the parsed JSON body, or the problem as a
    ``GatewayError`` (``GatewayUnavailable`` when the gateway cannot be reached). ``what`` starts
    every message (``"show dataset team/ds"``); ``None`` values of ``params`` are left out."""
    query = {k: str(v) for k, v in (params or {}).items() if v is not None}
    try:
        async with session.request(method, base_url + path, params=query, json=json_body, data=data,
                                   headers=headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise GatewayUnavailable(
            f"{what}: cannot reach the gateway at {base_url} ({exc or type(exc).__name__}). "
            "Is it running? Set LAKECACHE_API_URL to its address."
        ) from exc
    try:
        body = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = text
    if status >= 400:
        token_sent = "Authorization" in session.headers or "Authorization" in (headers or {})
        raise problem_error(what, status, body, token_sent=token_sent)
    return body


class GatewaySession:
    """The session (it sends the token) and the request every call makes; use the client as
    ``async with GatewayClient(settings) as gateway:``."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.base_url = self.settings.gateway_url
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json",
                                                                        **self.settings.auth_headers()})
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (it sends the token): for requests the methods do not cover. A
        request that may take long passes ``timeout=stream_timeout(client.settings)``."""
        if self._session is None:
            raise RuntimeError(f"use the client inside `async with {type(self).__name__}(...) as client:`")
        return self._session

    def url(self, path: str) -> str:
        """The absolute URL of the gateway's ``path`` (``/api/v1/…``)."""
        return self.base_url + path

    async def request(self, method: str, path: str, *, what: str, params: dict[str, Any] | None = None,
                      json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        """``method`` on the gateway's ``path``: the decoded JSON answer, or a ``GatewayError``
        whose message starts with ``what``."""
        return await request_json(self.session, self.base_url, method, path, what=what, params=params,
                                  json_body=json_body, data=data, headers=headers)

    async def _pages(self, path: str, params: dict[str, Any], *, what: str,
                     stop_after: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every item of a listing, following ``next_cursor`` (at most ``stop_after``)."""
        params = dict(params)
        yielded = 0
        while True:
            page = await self.request("GET", path, params=params, what=what)
            for item in page.get("items", []):
                yield item
                yielded += 1
                if stop_after is not None and yielded >= stop_after:
                    return
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]
