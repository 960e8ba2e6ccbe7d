"""Settings of the SDK and the ``lakecache`` command as a client of the gateway.

Same sources and names as the services (``LAKECACHE_*`` environment variables, then the TOML
config file), so one environment configures both sides: ``LAKECACHE_API_URL`` (the gateway),
``LAKECACHE_TOKEN``, ``LAKECACHE_PROJECT``; below them, the login ``lakecache login`` stored
(``lakecache.sdk.user_config``), so a person logs in once and the CLI and the SDK both use it.
The client talks to the gateway only: every internal service refuses requests the gateway did
not sign, and files reach the lake through upload URLs the gateway hands out, so a client needs
no lake credentials.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from lakecache.core.settings import LakeCacheSources
from lakecache.sdk.user_config import UserConfigSource


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lakecache`` (``~/.cache/lakecache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lakecache"


class ClientSettings(LakeCacheSources):
    """Where the gateway is, the token, the default project and the client's own cache."""

    api_url: str = Field("http://127.0.0.1:8080", description="Base URL of the gateway.")
    project: str = Field("default", description="Project of dataset names given without `project/`; also the "
                         "project of a `CopyLease` a user token takes (a job token's project wins).")
    token: SecretStr | None = Field(
        None, description="API token sent to the gateway as `Authorization: Bearer …` (`LAKECACHE_TOKEN`). Default: "
        "the token `lakecache login` stored for this gateway, else the administrator token `lakecache up` wrote to "
        "`<home>/admin-token`, when this user can read it.",
    )
    home: Path = Field(Path(".lakecache"), description="Where `lakecache up` keeps its data (and `admin-token`).")
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Client cache (file hashes), `~/.cache/lakecache` by default."
    )
    request_timeout: float = Field(
        300.0, gt=0, description="Seconds before a request is abandoned (for a live-progress stream or an upload: "
        "seconds of silence).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = super().settings_customise_sources(settings_cls, init_settings, env_settings, dotenv_settings,
                                                    file_secret_settings)
        return (*shared, UserConfigSource(settings_cls))

    @property
    def gateway_url(self) -> str:
        """``api_url`` without a trailing slash."""
        return self.api_url.rstrip("/")

    def bearer_token(self) -> str | None:
        """The token to send: ``token``, else the local administrator token file, else none."""
        if self.token is not None:
            return self.token.get_secret_value()
        try:
            return (self.home / "admin-token").read_text().strip() or None
        except OSError:
            return None

    def auth_headers(self) -> dict[str, str]:
        token = self.bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}
