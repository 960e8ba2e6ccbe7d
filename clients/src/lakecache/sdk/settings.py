"""Settings of the SDK and the ``lakecache`` command as a client of the services.

Same sources and names as the services (``LAKECACHE_*`` environment variables, then the TOML
config file), so one environment configures both sides: ``LAKECACHE_API_URL``,
``LAKECACHE_PROJECT``, and the lake's S3 options ``LAKECACHE_S3_ENDPOINT_URL`` and friends,
which are used to reach a dataset's ``lake_url`` directly when syncing or importing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from lakecache.core.settings import LakeAccessSettings


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lakecache`` (``~/.cache/lakecache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lakecache"


class ClientSettings(LakeAccessSettings):
    """Where the catalog is, the default project, and (inherited) how to reach an S3 lake."""

    api_url: str = Field("http://127.0.0.1:8081", description="Base URL of the catalog API (or the gateway).")
    cacher_url: str = Field("http://127.0.0.1:8082", description="Base URL of a site's cacher API (`lakecache site`).")
    evictor_url: str = Field(
        "http://127.0.0.1:8083", description="Base URL of the evictor API (`lakecache site why`, `lakecache site ttl`)."
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
    request_timeout: float = Field(300.0, gt=0, description="Seconds before a catalog request is abandoned.")

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
