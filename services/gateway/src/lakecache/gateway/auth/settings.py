"""The knobs of authentication: token lifetimes, the embedded admin token, public metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class AuthSettings:
    """Token lifetimes and what answers without a token.

    Every token expires: a leaked one stops working on its own even if nobody notices the leak.
    """

    #: Lifetime of a user token when its creator asks for none.
    user_token_ttl: timedelta = timedelta(days=90)
    #: Longest lifetime a user may ask for.
    max_user_token_ttl: timedelta = timedelta(days=365)
    #: Longest lifetime of a job token (the run's expected end, explicitly given, must be sooner).
    max_job_token_ttl: timedelta = timedelta(days=30)
    #: Lifetime of a browser session (never longer than the token it was opened with).
    session_ttl: timedelta = timedelta(hours=12)
    #: Mark the session cookie ``Secure`` (sent over HTTPS only): ``auto`` when the request came
    #: over HTTPS, ``always`` (behind a proxy that terminates TLS) or ``never``.
    secure_cookies: str = "auto"
    #: Lifetime of the token written to ``<home>/admin-token`` on first start.
    admin_token_ttl: timedelta = timedelta(days=365)
    #: Create the local ``admin`` user and its token file when the file is missing (the embedded
    #: default). Turn off where the home directory is not persistent (a pod without a volume would
    #: mint a new admin token at every start) and create administrators explicitly instead.
    bootstrap_admin: bool = True
    #: Serve ``/metrics`` without a token (for a Prometheus scraper on a trusted network); otherwise
    #: it needs an installation administrator's token.
    public_metrics: bool = False
