"""What authentication keeps and where: the gateway's repositories of users, memberships,
tokens and the audit log (``lakecache.gateway.repositories``, which describes each collection),
its settings and its clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now
from lakecache.gateway.auth.audit import AuditLog
from lakecache.gateway.auth.settings import AuthSettings
from lakecache.gateway.repositories import AuditRepository, MembershipRepository, TokenRepository, UserRepository


@dataclass
class AuthStore:
    """The dependencies of authentication, wired once by the gateway's bootstrap."""

    users: UserRepository
    memberships: MembershipRepository
    tokens: TokenRepository
    audit: AuditLog
    settings: AuthSettings = field(default_factory=AuthSettings)
    #: The time source of expiry checks and records (tests move it forward).
    clock: Callable[[], datetime] = now

    @classmethod
    def open(cls, store: DocumentStore, settings: AuthSettings | None = None, *,
             clock: Callable[[], datetime] = now) -> AuthStore:
        """Bind to ``store`` (no I/O; call :meth:`create_indexes` once at start-up)."""
        return cls(UserRepository(store), MembershipRepository(store), TokenRepository(store),
                   AuditLog(AuditRepository(store), clock), settings or AuthSettings(), clock)

    async def create_indexes(self) -> None:
        await self.users.create_indexes()
        await self.memberships.create_indexes()
        await self.tokens.create_indexes()
        await self.audit.create_indexes()
