"""Settings of the gateway service (shared parts: `lakecache.core.settings`)."""

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from lakecache.core.settings import LakeCacheSettings, ServiceSection
from lakecache.gateway.auth import AuthSettings

HttpUrlText = Annotated[str, Field(pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")]


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
    session_hours: float = Field(
        12, gt=0, le=24 * 30,
        description="Lifetime in hours of a dashboard sign-in (a browser session); never longer than the token it "
        "was opened with.",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the dashboard's session cookie `Secure` (HTTPS only): `auto` when the request came over "
        "HTTPS, `always` behind a TLS-terminating proxy that forwards plain HTTP, `never` for local HTTP only.",
    )
    public_metrics: bool = Field(
        False,
        description="Serve `/metrics` without a token (for a scraper on a trusted network); otherwise it needs an "
        "installation administrator's token.",
    )

    catalog_url: HttpUrlText = Field("http://127.0.0.1:8081", description="Base URL of the catalog API.")
    cacher_url: HttpUrlText = Field(
        "http://127.0.0.1:8082", description="Base URL of the cacher API of sites not listed in `cacher_urls`."
    )
    cacher_urls: dict[str, HttpUrlText] = Field(
        default_factory=dict,
        description="Base URL of each site's cacher, by site (a cacher runs at its site), e.g. "
        '`{"dgx-a": "http://cacher.dgx-a:8082"}` (env: JSON).',
    )
    evictor_url: HttpUrlText = Field("http://127.0.0.1:8083", description="Base URL of the evictor API.")
    tracker_url: HttpUrlText = Field("http://127.0.0.1:8084", description="Base URL of the tracker API.")
    run_apply_wait_seconds: float = Field(
        10.0, gt=0, le=300,
        description="How long starting or ending a run waits for the tracker to show it before answering 503 "
        "(the run was sent; reading it again later finds it).",
    )
    upstream_timeout_seconds: float = Field(
        60.0, gt=0, le=3600,
        description="Seconds before a request to a backing service is abandoned (answered 503). Commit uploads "
        "stream and may take longer as long as bytes keep moving.",
    )
    status_poll_seconds: float = Field(
        1.0, gt=0, le=60,
        description="How often a live-progress stream (SSE) re-reads a copy's status, besides the updates this "
        "gateway's own bus consumer announces (another gateway instance may have applied them).",
    )
    sse_heartbeat_seconds: float = Field(
        15.0, gt=0, le=300, description="Seconds between keep-alive comments on an idle live-progress stream."
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
            session_ttl=timedelta(hours=self.session_hours),
            secure_cookies=self.secure_cookies,
        )


class GatewaySettings(LakeCacheSettings):
    section_name = "gateway"

    gateway: GatewaySection = Field(default_factory=GatewaySection, description="The gateway service.")
