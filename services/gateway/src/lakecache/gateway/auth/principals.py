"""Who is calling: a user (a person or a service account) or a job (one run's token).

A principal is built from a verified token on every request (``authenticate.py``) and carries
what authorization needs, so :func:`~lakecache.gateway.auth.policy.authorize` stays a pure
function. It never carries the token itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from lakecache.gateway.auth.roles import Role


@dataclass(frozen=True)
class UserPrincipal:
    """A user authenticated by one of their tokens, with their roles as of this request."""

    kind: ClassVar[str] = "user"

    user_id: str
    name: str
    token_id: str
    global_admin: bool = False
    roles: Mapping[str, Role] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"user:{self.name}"

    @property
    def responsible_user_id(self) -> str:
        return self.user_id


@dataclass(frozen=True)
class JobPrincipal:
    """A training job acting for one run of one project; ``issued_by`` is the user id of the
    editor who issued the token (the person answerable for what the job does)."""

    kind: ClassVar[str] = "job"

    run_id: str
    project: str
    token_id: str
    issued_by: str

    @property
    def subject(self) -> str:
        return f"run:{self.run_id}"

    @property
    def responsible_user_id(self) -> str:
        return self.issued_by


Principal = UserPrincipal | JobPrincipal
