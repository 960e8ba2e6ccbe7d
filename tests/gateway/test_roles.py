"""Users and their roles per project, as stored and as seen by the next request."""

from __future__ import annotations

import pytest

from lakecache.core.errors import Conflict, InvalidArgument, NotFound
from lakecache.gateway.auth import Actor, Resource, Role, authenticate, authorize
from lakecache.gateway.auth.memberships import grant_role, members, revoke_role, roles_of
from lakecache.gateway.auth.users import create_user, set_disabled, set_global_admin
from tests.gateway.conftest import audit_records, make_user


async def principal(auth, someone):
    return await authenticate(auth, f"Bearer {someone.token}")


async def test_granted_roles_apply_per_project_from_the_next_request(auth):
    ada = await make_user(auth, "ada", {"vision": Role.VIEWER})
    p = await principal(auth, ada)
    assert authorize(p, "datasets:read", Resource("vision")).allowed
    assert not authorize(p, "datasets:write", Resource("vision")).allowed
    assert not authorize(p, "datasets:read", Resource("speech")).allowed

    await grant_role(auth, "vision", ada.id, Role.EDITOR, Actor.system())
    p = await principal(auth, ada)
    assert authorize(p, "datasets:write", Resource("vision")).allowed
    assert not authorize(p, "datasets:delete", Resource("vision")).allowed

    await revoke_role(auth, "vision", ada.id, Actor.system())
    p = await principal(auth, ada)
    assert not authorize(p, "datasets:read", Resource("vision")).allowed


async def test_a_grant_replaces_the_role_and_each_change_is_recorded_once(auth, clock):
    ada = await make_user(auth, "ada")
    root = Actor("user:root", "user")
    assert await grant_role(auth, "vision", ada.id, Role.ADMIN, root) is True
    clock.advance(seconds=1)
    assert await grant_role(auth, "vision", ada.id, Role.ADMIN, root) is False
    assert await grant_role(auth, "vision", ada.id, Role.VIEWER, root) is True
    assert await roles_of(auth, ada.id) == {"vision": Role.VIEWER}
    assert [m["role"] for m in await members(auth, "vision")] == ["viewer"]
    clock.advance(seconds=1)
    assert await revoke_role(auth, "vision", ada.id, root) is True
    assert await revoke_role(auth, "vision", ada.id, root) is False
    records = await audit_records(auth, actor="user:root")
    assert [(r["action"], r["project"], r["target"], r["reason"]) for r in reversed(records)] == [
        ("role.granted", "vision", "user:ada", "admin"),
        ("role.granted", "vision", "user:ada", "viewer (was admin)"),
        ("role.revoked", "vision", "user:ada", None),
    ]


async def test_grants_check_the_project_name_and_the_user(auth):
    ada = await make_user(auth, "ada")
    with pytest.raises(InvalidArgument, match="project name"):
        await grant_role(auth, "Vision!", ada.id, Role.VIEWER, Actor.system())
    with pytest.raises(NotFound):
        await grant_role(auth, "vision", "nobody", Role.VIEWER, Actor.system())


async def test_user_names_are_unique_and_checked(auth):
    await create_user(auth, "ada", Actor.system())
    with pytest.raises(Conflict, match="already exists"):
        await create_user(auth, "ada", Actor.system())
    with pytest.raises(InvalidArgument, match="user name"):
        await create_user(auth, "Ada Lovelace", Actor.system())


async def test_the_installation_administrator_flag_applies_at_once(auth):
    ada = await make_user(auth, "ada")
    root = await make_user(auth, "root", admin=True)
    assert not authorize(await principal(auth, ada), "users:write", Resource()).allowed
    await set_global_admin(auth, ada.id, True, Actor.system())
    assert authorize(await principal(auth, ada), "users:write", Resource()).allowed
    await set_global_admin(auth, root.id, False, Actor.system())
    assert not authorize(await principal(auth, root), "users:write", Resource()).allowed


async def test_the_last_administrator_cannot_be_demoted_or_disabled(auth):
    root = await make_user(auth, "root", admin=True)
    with pytest.raises(Conflict, match="last active installation administrator"):
        await set_global_admin(auth, root.id, False, Actor.system())
    with pytest.raises(Conflict, match="last active installation administrator"):
        await set_disabled(auth, root.id, True, Actor.system())
