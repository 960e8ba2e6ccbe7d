"""Settings: one pydantic-settings model per service, built on the shared parts below.

Sources, highest priority first: arguments, ``LAKECACHE_*`` environment variables, the
TOML config file (``LAKECACHE_CONFIG``, else ``./lakecache.toml`` if present), defaults.
Service sections nest: ``LAKECACHE_CATALOG__PORT=9081`` or ``[catalog] port = 9081``.
Every field's description is its documentation: ``docs/settings.md`` is generated from
these models (``python -m lakecache.core.settings_doc``) and a test keeps it current.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "LAKECACHE_CONFIG"
DEFAULT_CONFIG_FILE = Path("lakecache.toml")


def config_file() -> Path | None:
    """The TOML file to read, if any (``LAKECACHE_CONFIG`` must exist when set)."""
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            from lakecache.core.errors import ConfigurationError

            raise ConfigurationError(f"{CONFIG_ENV}={configured!r} does not name a readable file")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def redact_url(url: str) -> str:
    """``url`` with any password replaced, for logs and ``config show``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class ServiceSection(BaseModel):
    """What every service has: where it listens and where it keeps its own documents."""

    host: str = Field("127.0.0.1", description="Address the service's HTTP server binds to.")
    port: int = Field(0, ge=0, le=65535, description="HTTP port (0 picks a free port).")
    store_url: str | None = Field(
        None,
        description="Document store of this service: `sqlite:///path.db` or `mongodb://host/db`. "
        "Default: `sqlite:///<home>/<service>.db`.",
    )


class IdentitySection(BaseModel):
    """How services prove who they act for, and check it (``lakecache.core.identity``)."""

    keys_dir: Path | None = Field(
        None, description="Directory of this installation's service keys: `<service>.key` (this service's private "
        "signing key, mode 0600), `<issuer>.pub` (trusted public keys) and `metrics-token`. Default: `<home>/keys`.",
    )
    generate_keys: bool = Field(
        True, description="Create this service's key pair and the metrics token at start when missing (the embedded "
        "default). In production provide them as secrets and turn this off, so a missing secret fails the start.",
    )
    trusted_issuers: list[str] = Field(
        default_factory=lambda: ["gateway"],
        description="Services whose signed assertions an internal service accepts (their `<name>.pub` must be in "
        "`keys_dir`).",
    )
    assertion_ttl_seconds: int = Field(
        60, ge=5, le=3600, description="Lifetime of the assertion the gateway signs for each forwarded request.",
    )
    clock_leeway_seconds: int = Field(
        5, ge=0, le=300, description="Clock difference between hosts tolerated when checking a signed token's times.",
    )


class LakeCacheSources(BaseSettings):
    """Where every LakeCache process (services, CLI, SDK) reads its settings from, highest
    priority first: arguments, ``LAKECACHE_*`` environment variables, the TOML config file."""

    model_config = SettingsConfigDict(
        env_prefix="LAKECACHE_", env_nested_delimiter="__", extra="ignore", validate_default=True
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
        path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class LakeAccessSettings(LakeCacheSources):
    """How a service reaches an S3 lake (the catalog and the cachers read and write it)."""

    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint for `s3://` lakes that are not AWS (StorageGRID, Ceph, versitygw…)."
    )
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key; unset: the standard AWS credential chain.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret key (never logged).")
    s3_max_concurrency: int = Field(32, ge=1, description="Parallel S3 requests per process (sizes the HTTP pool).")

    def lake_options_for(self, url: str) -> dict[str, Any]:
        """Keyword options for ``object_store_from_url(url)``: the S3 options for ``s3://``, none else."""
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


class LakeCacheSettings(LakeAccessSettings):
    """Shared parts of every service's settings."""

    #: name of the service section (set by subclasses)
    section_name: ClassVar[str] = ""

    home: Path = Field(
        Path(".lakecache"), description="Directory for embedded data (lake, SQLite stores, tokens)."
    )
    bus_url: str = Field("memory://", description="Event bus: `memory://` (embedded) or `kafka://host:port[,host:port]`.")
    lake_url: str | None = Field(
        None, description="The data lake: `file:///dir` or `s3://bucket[/prefix]`. Default: `file://<home>/lake`."
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector base URL (e.g. `http://localhost:4318`); unset: traces not exported."
    )
    environment: str = Field("dev", description="Deployment environment name, attached to traces.")
    log_level: str = Field("INFO", description="Python log level.")
    identity: IdentitySection = Field(default_factory=IdentitySection, description="Service identity and keys.")

    @property
    def section(self) -> ServiceSection:
        return getattr(self, self.section_name)

    def resolved_keys_dir(self) -> Path:
        return (self.identity.keys_dir or self.home / "keys").resolve()

    def resolved_lake_url(self) -> str:
        return self.lake_url or f"file://{self.home.resolve() / 'lake'}"

    def resolved_store_url(self) -> str:
        return self.section.store_url or f"sqlite:///{self.home.resolve() / (self.section_name + '.db')}"

    def lake_options(self) -> dict[str, Any]:
        """Keyword options for the object-store adapter of ``lake_url``."""
        return self.lake_options_for(self.resolved_lake_url())

    def redacted(self) -> dict[str, Any]:
        """The effective settings as JSON-able data, secrets masked."""
        data = self.model_dump(mode="json")
        for key in ("bus_url", "lake_url"):
            if data.get(key):
                data[key] = redact_url(data[key])
        section = data.get(self.section_name) or {}
        if section.get("store_url"):
            section["store_url"] = redact_url(section["store_url"])
        return data
