"""Where authentication keeps things: the gateway's own collections and their indexes.

Collections (the gateway's; no other service writes them):

* ``users`` — ``_id`` a generated id: unique ``name``, ``global_admin``, ``disabled``.
* ``memberships`` — ``_id`` ``<project>:<user id>``: the user's ``role`` in the project.
  Projects have no collection of their own: a project exists for authorization once someone
  holds a role in it.
* ``tokens`` — ``_id`` the token id (not secret): the SHA-256 ``hash`` of the token (never the
  token), ``kind`` (``user`` or ``job``), owner or issuer, expiry, revocation.
* ``audit`` — the append-only audit log (``audit.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lakecache.core.ports.docstore import Collection, DocumentStore
from lakecache.gateway.auth.audit import AuditLog
from lakecache.gateway.auth.settings import AuthSettings


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass
class AuthStore:
    """The dependencies of authentication, wired once by the gateway's bootstrap."""

    users: Collection
    memberships: Collection
    tokens: Collection
    audit: AuditLog
    settings: AuthSettings = field(default_factory=AuthSettings)
    #: The time source of expiry checks and records (tests move it forward).
    clock: Callable[[], datetime] = now

    @classmethod
    def open(cls, store: DocumentStore, settings: AuthSettings | None = None, *,
             clock: Callable[[], datetime] = now) -> AuthStore:
        """Bind to ``store``'s collections (no I/O; call :meth:`create_indexes` once at start-up)."""
        return cls(store.collection("users"), store.collection("memberships"), store.collection("tokens"),
                   AuditLog(store.collection("audit"), clock), settings or AuthSettings(), clock)

    async def create_indexes(self) -> None:
        await self.users.create_index([("name", 1)], unique=True)
        await self.users.create_index([("global_admin", 1), ("disabled", 1)])
        await self.memberships.create_index([("user_id", 1)])
        await self.memberships.create_index([("project", 1), ("user_id", 1)])
        await self.tokens.create_index([("hash", 1)], unique=True)
        await self.tokens.create_index([("user_id", 1), ("created_at", -1)])
        await self.tokens.create_index([("run_id", 1)])
        await self.audit.create_indexes()
