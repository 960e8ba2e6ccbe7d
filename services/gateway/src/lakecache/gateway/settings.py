"""Settings of the gateway service (shared parts: `lakecache.core.settings`)."""

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator

from lakecache.core.settings import LakeCacheSettings, ServiceSection
from lakecache.gateway.auth import AuthSettings


class GatewaySection(ServiceSection):
    port: int = Field(8080, ge=0, le=65535, description="HTTP port of the gateway API.")
    user_token_days: int = Field(
        90, ge=1, le=36500, description="Lifetime in days of a user token when its creator asks for none."
    )
    max_user_token_days: int = Field(
        365, ge=1, le=36500, description="Longest lifetime in days a user may ask for when creating a token."
    )
    max_job_token_days: int = Field(
        30, ge=1, le=36500,
        description="Longest lifetime in days of a job token (its run's expected end must be sooner).",
    )
    admin_token_days: int = Field(
        365, ge=1, le=36500, description="Lifetime in days of the administrator token written to `<home>/admin-token`."
    )
    bootstrap_admin: bool = Field(
        True,
        description="On start, create the local `admin` user and write its token to `<home>/admin-token` when that "
        "file is missing. Turn off where `home` is not persistent and create administrators explicitly.",
    )
    public_metrics: bool = Field(
        False,
        description="Serve `/metrics` without a token (for a scraper on a trusted network); otherwise it needs an "
        "installation administrator's token.",
    )

    @model_validator(mode="after")
    def _default_within_limit(self) -> Self:
        if self.user_token_days > self.max_user_token_days:
            raise ValueError(f"user_token_days ({self.user_token_days}) must not exceed max_user_token_days "
                             f"({self.max_user_token_days}); raise the maximum or shorten the default")
        return self

    def auth_settings(self) -> AuthSettings:
        return AuthSettings(
            user_token_ttl=timedelta(days=self.user_token_days),
            max_user_token_ttl=timedelta(days=self.max_user_token_days),
            max_job_token_ttl=timedelta(days=self.max_job_token_days),
            admin_token_ttl=timedelta(days=self.admin_token_days),
            bootstrap_admin=self.bootstrap_admin,
            public_metrics=self.public_metrics,
        )


class GatewaySettings(LakeCacheSettings):
    section_name = "gateway"

    gateway: GatewaySection = Field(default_factory=GatewaySection, description="The gateway service.")
