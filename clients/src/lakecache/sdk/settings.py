"""Settings of the SDK and the ``lakecache`` command as a client of the services.

Same sources and names as the services (``LAKECACHE_*`` environment variables, then the TOML
config file), so one environment configures both sides: ``LAKECACHE_API_URL`` (the gateway),
``LAKECACHE_TOKEN``, ``LAKECACHE_PROJECT``, and the lake's S3 options
``LAKECACHE_S3_ENDPOINT_URL`` and friends, which are used to reach a dataset's ``lake_url``
directly when syncing or importing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from lakecache.core.settings import LakeAccessSettings

#: The services whose routes the gateway serves; each may be reached directly for tests and debugging.
Service = Literal["catalog", "cacher", "evictor"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lakecache`` (``~/.cache/lakecache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lakecache"


class ClientSettings(LakeAccessSettings):
    """Where the gateway is, the token, the default project, and (inherited) how to reach an S3 lake."""

    api_url: str = Field(
        "http://127.0.0.1:8080",
        description="Base URL of the gateway (or, for tests and debugging, one service's own API).",
    )
    cacher_url: str | None = Field(
        None, description="Base URL of a site's cacher API, to reach it directly instead of through the gateway "
        "(`lakecache site`). Default: `api_url`.",
    )
    evictor_url: str | None = Field(
        None, description="Base URL of the evictor API, to reach it directly instead of through the gateway "
        "(`lakecache site why`, `lakecache site ttl`). Default: `api_url`.",
    )
    project: str = Field("default", description="Project of dataset names given without `project/`.")
    token: SecretStr | None = Field(
        None, description="API token sent to the gateway as `Authorization: Bearer …` (`LAKECACHE_TOKEN`). Default: "
        "the administrator token `lakecache up` wrote to `<home>/admin-token`, when this user can read it.",
    )
    home: Path = Field(Path(".lakecache"), description="Where `lakecache up` keeps its data (and `admin-token`).")
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Client cache (file hashes), `~/.cache/lakecache` by default."
    )
    request_timeout: float = Field(
        300.0, gt=0, description="Seconds before a request is abandoned (for a live-progress stream: seconds of "
        "silence).",
    )

    def service_url(self, service: Service) -> str:
        """Base URL of ``service``'s routes, without a trailing slash: its own override
        (``cacher_url``, ``evictor_url``) when set, else ``api_url`` (the gateway)."""
        override = {"cacher": self.cacher_url, "evictor": self.evictor_url}.get(service)
        return (override or self.api_url).rstrip("/")

    def url_setting(self, service: Service) -> str:
        """The environment variable that sets :meth:`service_url` for ``service``, for error messages."""
        override = {"cacher": self.cacher_url, "evictor": self.evictor_url}.get(service)
        return f"LAKECACHE_{service.upper()}_URL" if override else "LAKECACHE_API_URL"

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

    def lake_options(self, url: str) -> dict[str, Any]:
        """Keyword options for ``object_store_from_url(url)``: S3 options for ``s3://``, none else."""
        return self.lake_options_for(url)
