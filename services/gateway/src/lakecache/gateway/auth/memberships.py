"""Roles per project: which users may do what in which project.

A membership is one document per (project, user) holding the role; granting another role
replaces it, revoking deletes it. Every change writes one audit record.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from lakecache.core.contracts.fields import Slug
from lakecache.core.errors import Conflict, InvalidArgument
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.roles import Role
from lakecache.gateway.auth.store import AuthStore, iso
from lakecache.gateway.auth.users import get_user

_PROJECT = TypeAdapter(Slug)


def check_project(project: object) -> str:
    """``project`` if it is a valid project name (the same rule as the catalog's), else :class:`InvalidArgument`."""
    try:
        return _PROJECT.validate_python(project)
    except ValidationError:
        raise InvalidArgument(f"a project name is 1-63 lower-case letters, digits and inner dashes, "
                              f"got {project!r}") from None


def _key(project: str, user_id: str) -> str:
    return f"{project}:{user_id}"


def membership_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"project": doc["project"], "user_id": doc["user_id"], "role": doc["role"],
            "granted_by": doc["granted_by"], "granted_at": iso(doc["granted_at"])}


async def grant_role(auth: AuthStore, project: str, user_id: str, role: Role, actor: Actor) -> bool:
    """Give the user ``role`` in ``project`` (replacing another role); ``False`` when it already had it."""
    user = await get_user(auth, user_id)
    key, now = _key(check_project(project), user_id), auth.clock()
    change = {"role": str(role), "granted_by": actor.subject, "granted_at": now}
    before = await auth.memberships.find_one_and_update({"_id": key, "role": {"$ne": str(role)}}, {"$set": change},
                                                        return_new=False)
    if before is None:
        try:
            await auth.memberships.insert_one({"_id": key, "project": project, "user_id": user_id, **change})
        except Conflict:
            return False  # it already holds this role
    previous = f" (was {before['role']})" if before else ""
    await auth.audit.record(actor, "role.granted", "succeeded", project=project, target=f"user:{user['name']}",
                            reason=f"{role}{previous}")
    return True


async def revoke_role(auth: AuthStore, project: str, user_id: str, actor: Actor) -> bool:
    """Remove the user's role in ``project``; ``False`` when it had none."""
    user = await get_user(auth, user_id)
    if await auth.memberships.delete_one({"_id": _key(project, user_id)}) == 0:
        return False
    await auth.audit.record(actor, "role.revoked", "succeeded", project=project, target=f"user:{user['name']}")
    return True


async def role_in(auth: AuthStore, project: str, user_id: str) -> Role | None:
    doc = await auth.memberships.find_one({"_id": _key(project, user_id)})
    return Role.parse(doc["role"]) if doc else None


async def roles_of(auth: AuthStore, user_id: str) -> dict[str, Role]:
    """Every project the user has a role in, with the role."""
    docs = await auth.memberships.find_list({"user_id": user_id}, projection={"project": 1, "role": 1})
    return {d["project"]: Role.parse(d["role"]) for d in docs}


async def members(auth: AuthStore, project: str) -> list[dict[str, Any]]:
    return await auth.memberships.find_list({"project": project}, sort=[("user_id", 1)])
