"""The whole stack behind the gateway, as `lakecache up` runs it, in a background thread (so
both async SDK tests and synchronous CLI tests, which call ``asyncio.run``, talk to it over
HTTP). Clients reach it the only way they can: the gateway, with a token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakecache.sdk.settings import ClientSettings
from tests.support.stack import STACK_VOLUME, Stack, create_user, served_stack

#: The project the user of the SDK tests edits.
PROJECT = "team"


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    """The stack behind the gateway; the environment points the CLI at the gateway with the
    administrator token (no project)."""
    monkeypatch.chdir(tmp_path)  # no lakecache.toml or .lakecache from the working directory
    monkeypatch.delenv("LAKECACHE_CONFIG", raising=False)
    with served_stack(tmp_path / "home", tmp_path / STACK_VOLUME) as running:
        monkeypatch.setenv("LAKECACHE_API_URL", running.base_url)
        monkeypatch.setenv("LAKECACHE_TOKEN", running.token)
        monkeypatch.setenv("LAKECACHE_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "client-cache"))
        monkeypatch.delenv("LAKECACHE_PROJECT", raising=False)
        yield running


@pytest.fixture
def user_token(stack) -> str:
    """A token of ``ada``, editor of project ``team``, made by the administrator through the gateway."""
    return create_user(stack.base_url, stack.token, "ada", {PROJECT: "editor"})


@pytest.fixture
def client_settings(stack, user_token, tmp_path) -> ClientSettings:
    """What ada's SDK needs: the gateway's address and her token (no lake settings, no admin file)."""
    return ClientSettings(api_url=stack.base_url, token=user_token, home=tmp_path / "no-home",
                          cache_dir=tmp_path / "client-cache")
