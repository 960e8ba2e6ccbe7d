"""The embedded default's first administrator: a local ``admin`` user and its token in a file.

On start-up (when ``AuthSettings.bootstrap_admin``) the gateway calls :func:`ensure_admin_token`:

* no ``<home>/admin-token``: make sure the local ``admin`` user exists and is an installation
  administrator, issue it a token and write the token there, readable by the owner only (0600);
* the file exists: never overwrite it — check its token and, if the installation rejects it
  (revoked, expired, from a reset store), say what to do instead of minting another one.

The token exists only in that file: it is not logged and not returned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lakecache.core.errors import Conflict
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.authenticate import Unauthenticated, authenticate
from lakecache.gateway.auth.principals import UserPrincipal
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.auth.tokens import issue_user_token, revoke_token
from lakecache.gateway.auth.users import create_user, find_user, set_disabled, set_global_admin

log = logging.getLogger(__name__)

ADMIN_NAME = "admin"
TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class AdminTokenFile:
    """What :func:`ensure_admin_token` found or did, with a sentence for the operator."""

    path: Path
    state: Literal["created", "valid", "rejected", "skipped"]
    detail: str


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _write_new(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: if the file appeared meanwhile (another process), fail rather than overwrite it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exact, whatever the umask
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)


def _too_open(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _recovery(path: Path) -> str:
    return (f"To get a new administrator token, move {path} away and restart the gateway: it writes a new token "
            f"for the local {ADMIN_NAME!r} user there. Or issue one with another administrator's token.")


async def _check(auth: AuthStore, path: Path, token: str) -> AdminTokenFile:
    if not token:
        return AdminTokenFile(path, "rejected", f"{path} is empty. {_recovery(path)}")
    try:
        principal = await authenticate(auth, f"Bearer {token}")
    except Unauthenticated as exc:
        return AdminTokenFile(path, "rejected", f"{path} holds a token this installation rejects: {exc}. "
                                                f"{_recovery(path)}")
    if not isinstance(principal, UserPrincipal) or not principal.global_admin:
        return AdminTokenFile(path, "rejected", f"{path} holds a token of {principal.subject}, who is not an "
                                                f"installation administrator (any more). {_recovery(path)}")
    warning = f"; it is readable by other users: run chmod 600 {path}" if await asyncio.to_thread(
        _too_open, path) else ""
    return AdminTokenFile(path, "valid", f"the administrator token in {path} is valid{warning}")


async def _local_admin(auth: AuthStore) -> dict[str, Any] | None:
    """The ``admin`` user, created if missing; ``None`` when it was demoted or disabled on purpose
    while other administrators remain (restored only when no administrator is left at all)."""
    system = Actor.system()
    user = await find_user(auth, ADMIN_NAME)
    if user is None:
        try:
            return await create_user(auth, ADMIN_NAME, system, global_admin=True)
        except Conflict:  # another gateway process created it just now
            user = await find_user(auth, ADMIN_NAME)
            assert user is not None
    if user["global_admin"] and not user["disabled"]:
        return user
    if await auth.users.count_active_admins() > 0:
        return None
    await set_global_admin(auth, user["_id"], True, system)
    await set_disabled(auth, user["_id"], False, system)
    return await find_user(auth, ADMIN_NAME)


async def ensure_admin_token(auth: AuthStore, home: Path) -> AdminTokenFile:
    """Make sure ``<home>/admin-token`` holds a working administrator token, never overwriting it.

    Logs what it found or did (never the token) and returns it; ``path`` is the file either way.
    """
    result = await _ensure(auth, home / TOKEN_FILE)
    log.log(logging.WARNING if result.state in ("rejected", "skipped") else logging.INFO, "%s", result.detail)
    return result


async def _ensure(auth: AuthStore, path: Path) -> AdminTokenFile:
    existing = await asyncio.to_thread(_read, path)
    if existing is not None:
        return await _check(auth, path, existing)
    admin = await _local_admin(auth)
    if admin is None:
        return AdminTokenFile(path, "skipped", f"no {path} and the {ADMIN_NAME!r} user was demoted or disabled by "
                                               "an administrator; ask one of the installation's administrators "
                                               "for a token")
    system = Actor.system()
    issued = await issue_user_token(auth, admin["_id"], system, name=f"{TOKEN_FILE} file",
                                    ttl=auth.settings.admin_token_ttl)
    try:
        await asyncio.to_thread(_write_new, path, issued.token)
    except FileExistsError:
        await revoke_token(auth, issued.id, system)  # another process wrote its own first: use that one
        return await _check(auth, path, await asyncio.to_thread(_read, path) or "")
    except Exception:
        await revoke_token(auth, issued.id, system)  # nobody can ever read this token: make it useless
        raise
    return AdminTokenFile(path, "created", f"wrote a new administrator token for user {ADMIN_NAME!r} to {path} "
                                           f"(readable by this OS user only; expires {issued.info['expires_at']}); "
                                           "use it as the bearer token of the CLI and the dashboard")
