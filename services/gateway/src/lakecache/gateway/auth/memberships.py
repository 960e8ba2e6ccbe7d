"""Roles per project: which users may do what in which project.

A membership is one document per (project, user) holding the role; granting another role
replaces it, revoking deletes it. Every change writes one audit record.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from lakecache.core.contracts.fields import Slug
from lakecache.core.errors import InvalidArgument
from lakecache.core.vocabulary.clock import iso
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.roles import Role
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.auth.users import get_user

_PROJECT = TypeAdapter(Slug)


def check_project(project: object) -> str:
    """``project`` if it is a valid project name (the same rule as the catalog's), else :class:`InvalidArgument`."""
    try:
        return _PROJECT.validate_python(project)
    except ValidationError:
        raise InvalidArgument(f"a project name is 1-63 lower-case letters, digits and inner dashes, "
                              f"got {project!r}") from None


def membership_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"project": doc["project"], "user_id": doc["user_id"], "role": doc["role"],
            "granted_by": doc["granted_by"], "granted_at": iso(doc["granted_at"])}


async def grant_role(auth: AuthStore, project: str, user_id: str, role: Role, actor: Actor) -> bool:
    """Give the user ``role`` in ``project`` (replacing another role); ``False`` when it already had it."""
    user = await get_user(auth, user_id)
    granted = await auth.memberships.grant(check_project(project), user_id, str(role), by=actor.subject,
                                           at=auth.clock())
    if not granted.changed:
        return False
    previous = f" (was {granted.previous})" if granted.previous else ""
    await auth.audit.record(actor, "role.granted", "succeeded", project=project, target=f"user:{user['name']}",
                            reason=f"{role}{previous}")
    return True


async def revoke_role(auth: AuthStore, project: str, user_id: str, actor: Actor) -> bool:
    """Remove the user's role in ``project``; ``False`` when it had none."""
    user = await get_user(auth, user_id)
    if not await auth.memberships.remove(project, user_id):
        return False
    await auth.audit.record(actor, "role.revoked", "succeeded", project=project, target=f"user:{user['name']}")
    return True


async def role_in(auth: AuthStore, project: str, user_id: str) -> Role | None:
    doc = await auth.memberships.get(project, user_id)
    return Role.parse(doc["role"]) if doc else None


async def roles_of(auth: AuthStore, user_id: str) -> dict[str, Role]:
    """Every project the user has a role in, with the role."""
    return {project: Role.parse(role) for project, role in (await auth.memberships.roles_of(user_id)).items()}


async def members(auth: AuthStore, project: str) -> list[dict[str, Any]]:
    return await auth.memberships.of_project(project)
