"""The embedded default's first administrator: a 0600 token file, created once, never overwritten."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from lakecache.gateway.auth import Actor, UserPrincipal, authenticate, ensure_admin_token
from lakecache.gateway.auth.tokens import list_tokens, revoke_token
from lakecache.gateway.auth.users import find_user, set_global_admin
from tests.gateway.conftest import make_user


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_first_start_writes_an_owner_only_administrator_token(auth, home, caplog):
    caplog.set_level(logging.DEBUG)
    previous = os.umask(0)  # even a permissive umask must not widen the file
    try:
        result = await ensure_admin_token(auth, home)
    finally:
        os.umask(previous)
    assert result.state == "created" and result.path == home / "admin-token"
    assert mode(result.path) == 0o600
    token = result.path.read_text().strip()
    principal = await authenticate(auth, f"Bearer {token}")
    assert isinstance(principal, UserPrincipal) and principal.name == "admin" and principal.global_admin
    assert token not in caplog.text and token not in result.detail and str(result.path) in caplog.text


async def test_later_starts_keep_the_file_and_issue_nothing(auth, home):
    first = await ensure_admin_token(auth, home)
    content = first.path.read_bytes()
    again = await ensure_admin_token(auth, home)
    assert again.state == "valid" and again.path.read_bytes() == content
    admin = await find_user(auth, "admin")
    assert len(await list_tokens(auth, user_id=admin["_id"], include_revoked=True)) == 1


async def test_a_revoked_token_in_the_file_is_reported_with_what_to_do_and_left_alone(auth, home):
    first = await ensure_admin_token(auth, home)
    content = first.path.read_bytes()
    admin = await find_user(auth, "admin")
    [token] = await list_tokens(auth, user_id=admin["_id"])
    await revoke_token(auth, token["id"], Actor.system())
    result = await ensure_admin_token(auth, home)
    assert result.state == "rejected"
    assert "revoked" in result.detail and f"move {first.path} away and restart the gateway" in result.detail
    assert first.path.read_bytes() == content
    assert await list_tokens(auth, user_id=admin["_id"]) == []


async def test_a_token_unknown_to_this_store_is_rejected_without_overwriting(auth, home):
    home.mkdir()
    path = home / "admin-token"
    path.write_text("lct_from-a-store-that-was-reset\n")
    result = await ensure_admin_token(auth, home)
    assert result.state == "rejected" and "unknown to this installation" in result.detail
    assert path.read_text() == "lct_from-a-store-that-was-reset\n"
    assert await find_user(auth, "admin") is None


async def test_moving_the_file_away_yields_a_new_token_for_the_same_admin(auth, home):
    first = await ensure_admin_token(auth, home)
    first.path.rename(home / "admin-token.old")
    second = await ensure_admin_token(auth, home)
    assert second.state == "created"
    admin = await find_user(auth, "admin")
    assert len(await list_tokens(auth, user_id=admin["_id"])) == 2


async def test_a_deliberately_demoted_admin_is_not_restored_while_others_administer(auth, home):
    first = await ensure_admin_token(auth, home)
    await make_user(auth, "root", admin=True)
    admin = await find_user(auth, "admin")
    await set_global_admin(auth, admin["_id"], False, Actor("user:root", "user"))
    assert (await ensure_admin_token(auth, home)).state == "rejected"  # the file's token is no admin's
    first.path.unlink()
    skipped = await ensure_admin_token(auth, home)
    assert skipped.state == "skipped" and not skipped.path.exists()


async def test_a_too_open_file_is_valid_but_flagged(auth, home):
    first = await ensure_admin_token(auth, home)
    first.path.chmod(0o644)
    result = await ensure_admin_token(auth, home)
    assert result.state == "valid" and f"chmod 600 {first.path}" in result.detail
