"""Job tokens: one run's reach — read its project's inputs, lease, log to its run — until it ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.auth import (
    ACTIONS,
    Actor,
    JobPrincipal,
    Resource,
    Role,
    Unauthenticated,
    authenticate,
    authorize,
)
from lakecache.gateway.auth.memberships import grant_role, revoke_role
from lakecache.gateway.auth.tokens import issue_job_token, list_tokens, revoke_run_tokens
from tests.gateway.conftest import audit_records, make_user

ALLOWED = {"datasets:read", "caches:read", "leases:write", "runs:log"}
ANYWHERE = {"self:read"}  # who am I: about the token, not a project


async def job_token(auth, clock, issuer, *, run="run-1", project="vision", hours=4):
    issued = await issue_job_token(auth, project=project, run_id=run, issuer_id=issuer.id,
                                   expires_at=clock() + timedelta(hours=hours),
                                   actor=Actor(f"user:{issuer.name}", "user"))
    return issued.token


async def test_a_job_token_acts_for_its_run_in_its_project(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR, "speech": Role.ADMIN})
    job = await authenticate(auth, f"Bearer {await job_token(auth, clock, ada)}")
    assert isinstance(job, JobPrincipal) and (job.run_id, job.project, job.issued_by) == ("run-1", "vision", ada.id)
    for action in ACTIONS:
        assert authorize(job, action, Resource("vision", "run-1")).allowed is (action in ALLOWED | ANYWHERE), action
    # Not the issuer's other project, and not another run of its own project.
    for action in ALLOWED:
        assert not authorize(job, action, Resource("speech", "run-1")).allowed
    assert not authorize(job, "runs:log", Resource("vision", "run-2")).allowed


async def test_a_job_token_expires_when_its_run_is_expected_to_end(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    token = await job_token(auth, clock, ada, hours=2)
    clock.advance(hours=2)
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticate(auth, f"Bearer {token}")


async def test_job_tokens_need_an_explicit_expiry_within_bounds(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    for expires in (clock(), clock() - timedelta(hours=1), clock() + timedelta(days=31)):
        with pytest.raises(InvalidArgument, match="within 30 days"):
            await issue_job_token(auth, project="vision", run_id="r", issuer_id=ada.id, expires_at=expires,
                                  actor=Actor.system())


async def test_ending_a_run_revokes_its_job_tokens(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    first, second = await job_token(auth, clock, ada), await job_token(auth, clock, ada)
    other_run = await job_token(auth, clock, ada, run="run-2")
    assert await revoke_run_tokens(auth, "run-1", Actor.system()) == 2
    for token in (first, second):
        with pytest.raises(Unauthenticated, match="revoked"):
            await authenticate(auth, f"Bearer {token}")
    await authenticate(auth, f"Bearer {other_run}")
    assert len(await list_tokens(auth, run_id="run-1", include_revoked=True)) == 2
    assert [r["action"] for r in await audit_records(auth, actor="system")].count("token.revoked") == 2


async def test_a_job_token_stops_when_its_issuer_loses_the_project(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    token = await job_token(auth, clock, ada)
    await grant_role(auth, "vision", ada.id, Role.VIEWER, Actor.system())
    with pytest.raises(Unauthenticated, match="may no longer issue job tokens in project 'vision'"):
        await authenticate(auth, f"Bearer {token}")
    await grant_role(auth, "vision", ada.id, Role.EDITOR, Actor.system())
    await authenticate(auth, f"Bearer {token}")
    await revoke_role(auth, "vision", ada.id, Actor.system())
    with pytest.raises(Unauthenticated):
        await authenticate(auth, f"Bearer {token}")
