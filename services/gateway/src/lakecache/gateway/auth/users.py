"""Users: people and service accounts that sign in with their own tokens.

A user has a unique ``name``, may be an installation administrator (``global_admin``, the
operator's flag) and may be ``disabled``. Disabling revokes, for good, every token the user
holds and every job token they issued: re-enabling gives back the account and its roles, never
those tokens, so whatever leaked before the disable stays dead; the user creates new tokens.
Users are never deleted: audit records and tokens keep pointing at them. Every change writes
one audit record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from lakecache.core.errors import Conflict, InvalidArgument, NotFound
from lakecache.core.vocabulary.clock import iso
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.repositories.users import Flag

#: A user name (the API's request models declare the same pattern).
NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9._@-]{0,98}[a-z0-9])?$"
_NAME = re.compile(NAME_PATTERN)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(f"a user name is 1-100 lower-case letters, digits and . _ @ - (starting and ending "
                              f"with a letter or digit), got {name!r}")
    return name


def user_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A user as the API shows it."""
    return {"id": doc["_id"], "name": doc["name"], "global_admin": doc["global_admin"],
            "disabled": doc["disabled"], "created_at": iso(doc["created_at"]), "created_by": doc["created_by"]}


async def create_user(auth: AuthStore, name: str, actor: Actor, *, global_admin: bool = False) -> dict[str, Any]:
    """Create the user ``name`` and return its document; :class:`Conflict` if the name is taken."""
    doc = {"_id": uuid.uuid4().hex, "name": check_name(name), "global_admin": global_admin, "disabled": False,
           "created_at": auth.clock(), "created_by": actor.subject}
    try:
        await auth.users.add(doc)
    except Conflict:
        raise Conflict(f"a user named {name!r} already exists; pick another name") from None
    await auth.audit.record(actor, "user.created", "succeeded", target=f"user:{name}",
                            reason="installation administrator" if global_admin else None)
    return doc


async def get_user(auth: AuthStore, user_id: str) -> dict[str, Any]:
    doc = await auth.users.get(user_id)
    if doc is None:
        raise NotFound(f"no user with id {user_id!r}")
    return doc


async def find_user(auth: AuthStore, name: str) -> dict[str, Any] | None:
    return await auth.users.by_name(name)


async def _keep_an_administrator(auth: AuthStore, doc: dict[str, Any]) -> None:
    # Without an active administrator nobody could create users or fix roles any more. Two
    # concurrent demotions may both pass this check; the admin-token bootstrap (a missing
    # ``<home>/admin-token`` when no administrator is left) is the way back.
    if doc["global_admin"] and not doc["disabled"]:
        if await auth.users.count_active_admins(besides=doc["_id"]) == 0:
            raise Conflict(f"{doc['name']!r} is the last active installation administrator; "
                           "make another user administrator first")


async def _set_flag(auth: AuthStore, user_id: str, flag: Flag, value: bool, actor: Actor, event: str,
                    then: Callable[[], Awaitable[str | None]] | None = None) -> bool:
    """Set ``flag``; ``then`` runs after the change and its answer becomes the change's audit reason."""
    doc = await get_user(auth, user_id)
    if doc[flag] == value:
        return False
    if (flag, value) in (("global_admin", False), ("disabled", True)):
        await _keep_an_administrator(auth, doc)
    changed = await auth.users.set_flag(user_id, flag, value)
    reason = await then() if then is not None else None
    if not changed:
        return False  # a concurrent call made the same change (and recorded it)
    await auth.audit.record(actor, event, "succeeded", target=f"user:{doc['name']}", reason=reason)
    return True


async def set_global_admin(auth: AuthStore, user_id: str, value: bool, actor: Actor) -> bool:
    """Make the user an installation administrator or not; ``False`` when it already was so."""
    return await _set_flag(auth, user_id, "global_admin", value, actor,
                           "user.promoted" if value else "user.demoted")


async def set_disabled(auth: AuthStore, user_id: str, disabled: bool, actor: Actor) -> bool:
    """Disable a user (revoking every token they hold and every job token they issued) or
    re-enable one (with no live token: they create new ones). ``False`` when it already was so."""

    async def revoke() -> str | None:
        # Also when enabling: a token issued while the disable was under way (it checked the user
        # just before) or left by a disable that stopped half way must not come back to life.
        revoked = await _revoke_every_token(auth, user_id, actor)
        return f"{revoked} token(s) revoked for good" if disabled or revoked else None

    changed = await _set_flag(auth, user_id, "disabled", disabled, actor,
                              "user.disabled" if disabled else "user.enabled", then=revoke)
    if disabled and not changed:
        await _revoke_every_token(auth, user_id, actor)  # disabled already: nothing it held may be live
    return changed


async def _revoke_every_token(auth: AuthStore, user_id: str, actor: Actor) -> int:
    """Revoke the live tokens of the user and the job tokens they issued (both name them as
    ``user_id``); how many."""
    return await auth.tokens.revoke_all_of(user_id, at=auth.clock(), by=actor.subject)
