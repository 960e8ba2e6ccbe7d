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
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from lakecache.core.settings import config_file


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lakecache`` (``~/.cache/lakecache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lakecache"


class ClientSettings(BaseSettings):
    """Where the catalog is, the default project, and how to reach the lake."""

    model_config = SettingsConfigDict(env_prefix="LAKECACHE_", extra="ignore", validate_default=True)

    api_url: str = Field("http://127.0.0.1:8081", description="Base URL of the catalog API (or the gateway).")
    project: str = Field("default", description="Project of dataset names given without `project/`.")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint for `s3://` lakes that are not AWS.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key; unset: the standard AWS credential chain.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret key (never logged).")
    s3_max_concurrency: int = Field(32, ge=1, description="Parallel S3 requests (sizes the HTTP pool).")
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Client cache (file hashes), `~/.cache/lakecache` by default."
    )
    request_timeout: float = Field(300.0, gt=0, description="Seconds before a catalog request is abandoned.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def lake_options(self, url: str) -> dict[str, Any]:
        """Keyword options for ``object_store_from_url(url)``: S3 options for ``s3://``, none else."""
        if urlsplit(url).scheme != "s3":
            return {}
        secret = self.s3_secret_access_key.get_secret_value() if self.s3_secret_access_key else None
        return {
            "endpoint_url": self.s3_endpoint_url,
            "region": self.s3_region,
            "access_key_id": self.s3_access_key_id,
            "secret_access_key": secret,
            "max_concurrency": self.s3_max_concurrency,
        }
