"""The audit log is append-only and records each change once, naming who made it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.auth import Actor, AuditLog, Role
from lakecache.gateway.auth.memberships import grant_role
from lakecache.gateway.auth.tokens import issue_job_token, issue_user_token, revoke_token
from lakecache.gateway.auth.users import create_user
from tests.gateway.conftest import audit_records


def test_the_log_offers_no_way_to_change_or_remove_records():
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"create_indexes", "find", "page", "record"}  # reads and appends, nothing else


async def test_each_change_is_one_record_naming_actor_target_and_project(auth, clock):
    root = Actor("user:root", "user", user_id="u-root", token_id="t-root", request_id="req-1",
                 route="POST /api/v1/users")
    ada = await create_user(auth, "ada", root)
    clock.advance(seconds=1)
    await grant_role(auth, "vision", ada["_id"], Role.EDITOR, root)
    clock.advance(seconds=1)
    issued = await issue_user_token(auth, ada["_id"], root)
    clock.advance(seconds=1)
    job = await issue_job_token(auth, project="vision", run_id="run-1", issuer_id=ada["_id"],
                                expires_at=clock() + timedelta(hours=1), actor=root)
    clock.advance(seconds=1)
    await revoke_token(auth, issued.id, root)
    records = list(reversed(await audit_records(auth)))
    assert [(r["action"], r["target"], r["project"]) for r in records] == [
        ("user.created", "user:ada", None),
        ("role.granted", "user:ada", "vision"),
        ("token.created", f"token:{issued.id}", None),
        ("token.created", f"token:{job.id}", "vision"),
        ("token.revoked", f"token:{issued.id}", None),
    ]
    assert {(r["actor"], r["user_id"], r["token_id"], r["request_id"], r["outcome"]) for r in records} == {
        ("user:root", "u-root", "t-root", "req-1", "succeeded")}
    assert root.recorded == 5
    assert [r["action"] for r in await auth.audit.find(project="vision")] == ["token.created", "role.granted"]
    assert len(await auth.audit.find(before=records[2]["at"])) == 2


async def test_pages_are_bounded(auth):
    with pytest.raises(InvalidArgument):
        await auth.audit.find(limit=0)
