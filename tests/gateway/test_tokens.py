"""API tokens: issued once, stored as hashes, expiring, revoked at once in every process."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from lakecache.core.adapters.registry import document_store_from_url
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.gateway.auth import Actor, AuthStore, Role, Unauthenticated, UserPrincipal, authenticate
from lakecache.gateway.auth.tokens import hash_token, issue_job_token, issue_user_token, list_tokens, revoke_token
from lakecache.gateway.auth.users import set_disabled
from tests.gateway.conftest import audit_records, everything_stored, make_user


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_issued_token_has_scannable_prefix_and_authenticates_its_user(auth):
    ada = await make_user(auth, "ada")
    assert re.fullmatch(r"lct_[A-Za-z0-9_-]{43}", ada.token)
    principal = await authenticate(auth, bearer(ada.token))
    assert isinstance(principal, UserPrincipal)
    assert (principal.name, principal.user_id, principal.global_admin) == ("ada", ada.id, False)


async def test_store_keeps_hashes_never_tokens(auth, store, caplog):
    caplog.set_level(logging.DEBUG)
    ada = await make_user(auth, "ada")
    issued = await issue_user_token(auth, ada.id, Actor.system(), name="laptop")
    await authenticate(auth, bearer(issued.token))
    await revoke_token(auth, issued.id, Actor.system())
    stored = await everything_stored(store)
    for token in (ada.token, issued.token):
        secret = token.removeprefix("lct_")
        assert secret not in stored
        assert hash_token(token) in stored
    assert issued.token not in repr(issued) and issued.token not in caplog.text
    listed = await list_tokens(auth, user_id=ada.id, include_revoked=True)
    assert len(listed) == 2 and issued.id in {t["id"] for t in listed}
    assert all("hash" not in t for t in listed)


async def test_token_expires_at_its_time(auth, clock):
    ada = await make_user(auth, "ada")
    issued = await issue_user_token(auth, ada.id, Actor.system(), ttl=timedelta(hours=1))
    clock.advance(minutes=59)
    await authenticate(auth, bearer(issued.token))
    clock.advance(minutes=1)
    with pytest.raises(Unauthenticated, match="expired") as caught:
        await authenticate(auth, bearer(issued.token))
    assert caught.value.error == "invalid_token" and caught.value.owner.token_id == issued.id


async def test_default_lifetime_is_bounded_and_overlong_lifetimes_are_refused(auth, clock):
    ada = await make_user(auth, "ada")
    issued = await issue_user_token(auth, ada.id, Actor.system())
    clock.advance(days=90)
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticate(auth, bearer(issued.token))
    with pytest.raises(InvalidArgument, match="365 days"):
        await issue_user_token(auth, ada.id, Actor.system(), ttl=timedelta(days=366))
    with pytest.raises(InvalidArgument):
        await issue_user_token(auth, ada.id, Actor.system(), ttl=timedelta(0))


async def test_revoked_token_fails_on_the_next_request_in_another_process(auth, store_url, clock):
    ada = await make_user(auth, "ada")
    await authenticate(auth, bearer(ada.token))
    token_id = (await list_tokens(auth, user_id=ada.id))[0]["id"]
    # A second gateway process: its own connection to the same store.
    async with document_store_from_url(store_url) as other_store:
        other = AuthStore.open(other_store, clock=clock)
        await authenticate(other, bearer(ada.token))
        assert await revoke_token(auth, token_id, Actor.system()) is True
        with pytest.raises(Unauthenticated, match="revoked"):
            await authenticate(other, bearer(ada.token))
    with pytest.raises(Unauthenticated, match="revoked"):
        await authenticate(auth, bearer(ada.token))


async def test_revoking_twice_changes_nothing_and_records_once(auth):
    ada = await make_user(auth, "ada")
    token_id = (await list_tokens(auth, user_id=ada.id))[0]["id"]
    assert await revoke_token(auth, token_id, Actor.system()) is True
    assert await revoke_token(auth, token_id, Actor.system()) is False
    revoked = await audit_records(auth, outcome="succeeded")
    assert [r["action"] for r in revoked].count("token.revoked") == 1
    with pytest.raises(NotFound):
        await revoke_token(auth, "no-such-token", Actor.system())


async def test_users_revoke_only_their_own_tokens(auth):
    ada, bob = await make_user(auth, "ada"), await make_user(auth, "bob")
    bobs = (await list_tokens(auth, user_id=bob.id))[0]["id"]
    with pytest.raises(NotFound, match="among yours"):
        await revoke_token(auth, bobs, Actor.system(), owner=ada.id)
    await authenticate(auth, bearer(bob.token))


async def test_disabling_a_user_revokes_its_tokens_and_its_jobs_tokens_for_good(auth, clock):
    ada = await make_user(auth, "ada", {"vision": Role.EDITOR})
    bob = await make_user(auth, "bob", {"vision": Role.EDITOR})
    await make_user(auth, "root", admin=True)
    job = await issue_job_token(auth, project="vision", run_id="run-1", issuer_id=ada.id,
                                expires_at=clock() + timedelta(hours=4), actor=Actor.system())
    await set_disabled(auth, ada.id, True, Actor.system())
    [disabled] = await audit_records(auth, action="user.disabled")
    assert disabled["reason"] == "2 token(s) revoked for good"

    await set_disabled(auth, ada.id, False, Actor.system())
    for token in (ada.token, job.token):  # re-enabling the user brings none of them back
        with pytest.raises(Unauthenticated, match="was revoked"):
            await authenticate(auth, bearer(token))
    assert await list_tokens(auth, user_id=ada.id) == []
    await authenticate(auth, bearer(bob.token))  # nobody else's
    fresh = await issue_user_token(auth, ada.id, Actor.system(), name="after")
    assert (await authenticate(auth, bearer(fresh.token))).name == "ada"


async def test_enabling_a_user_after_a_disable_that_stopped_half_way_leaves_no_token_alive(auth):
    ada = await make_user(auth, "ada")
    # The flag was written, then the process died before it revoked anything.
    assert await auth.users.set_flag(ada.id, "disabled", True)
    await set_disabled(auth, ada.id, False, Actor.system())
    with pytest.raises(Unauthenticated, match="was revoked"):
        await authenticate(auth, bearer(ada.token))
    [enabled] = await audit_records(auth, action="user.enabled")
    assert enabled["reason"] == "1 token(s) revoked for good"


@pytest.mark.parametrize(("header", "error"), [
    (None, None),
    ("", None),
    ("Basic YWRhOnNlY3JldA==", "invalid_request"),
    ("Bearer", "invalid_request"),
    ("Bearer ghp_0123456789", "invalid_token"),
    ("Bearer lct_never-issued", "invalid_token"),
])
async def test_missing_or_malformed_or_unknown_tokens_are_refused(auth, header, error):
    with pytest.raises(Unauthenticated) as caught:
        await authenticate(auth, header)
    assert caught.value.error == error and caught.value.owner is None
