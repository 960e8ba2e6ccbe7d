"""The gateway's routes about API tokens: one's own (create, list, revoke) and, for installation
administrators, anyone's.

A token's secret is in the answer that creates it only (``token``); listings show its ``id``,
name, kind, expiry and whether it was revoked. Job tokens for a run are issued by
``RunCalls.issue_job_token`` (``lakecache.sdk.runs``). ``GatewayClient`` has these methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from lakecache.sdk.http import API, GatewaySession


def _body(name: str, expires_in_days: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    return body


class TokenCalls(GatewaySession):
    """Create, list and revoke API tokens, through the gateway."""

    async def create_token(self, *, name: str = "", expires_in_days: int | None = None,
                           user: str | None = None) -> dict[str, Any]:
        """A new token acting as the caller (or, for installation administrators, as ``user``),
        valid ``expires_in_days`` (default and maximum: the gateway's settings). The answer's
        ``token`` is the secret, shown this once; ``id`` is what revokes it."""
        if user is None:
            return await self.request("POST", f"{API}/tokens", json_body=_body(name, expires_in_days),
                                      what="create a token")
        return await self.request("POST", f"{API}/users/{quote(user, safe='')}/tokens",
                                  json_body=_body(name, expires_in_days), what=f"create a token for user {user!r}")

    async def tokens(self, *, user: str | None = None, include_revoked: bool = False,
                     limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the caller's tokens and the job tokens they issued (or ``user``'s, for
        administrators), newest first, never their secrets (at most ``limit``)."""
        path = f"{API}/tokens" if user is None else f"{API}/users/{quote(user, safe='')}/tokens"
        params: dict[str, Any] = {"include_revoked": "true" if include_revoked else None, "limit": limit}
        async for item in self._pages(path, params, stop_after=limit,
                                      what="list tokens" if user is None else f"list the tokens of user {user!r}"):
            yield item

    async def revoke_token(self, token_id: str) -> None:
        """Revoke the token: it fails from the next request on. Anyone may revoke their own tokens
        and the job tokens they issued; installation administrators any."""
        await self.request("DELETE", f"{API}/tokens/{quote(token_id, safe='')}", what=f"revoke token {token_id}")
