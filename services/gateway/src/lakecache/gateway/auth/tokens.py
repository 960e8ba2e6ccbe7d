"""API tokens: issued once, stored hashed, expiring, revocable by their non-secret id.

A token is ``lct_`` followed by 43 URL-safe characters (32 random bytes). The prefix lets
secret scanners (GitHub push protection, gitleaks, trufflehog) recognise a leaked token; the
caller sees the token once, in :class:`IssuedToken`, and the store keeps only its SHA-256.

Why SHA-256 and not bcrypt/argon2: slow, salted hashes protect *low-entropy* secrets (passwords)
against guessing after a database leak. A 256-bit random token cannot be guessed at any hash
speed, so slowness buys nothing — while every API request verifies a token, and a bcrypt check
costs ~100 ms of CPU per request. An unsalted hash is also what lets the gateway find the token
by an indexed equality on ``hash`` instead of scanning candidates.

Two kinds: ``user`` tokens act as their owner with the owner's current roles; ``job`` tokens act
for one run (``policy.py`` limits them) and expire at an explicit time, the run's expected end.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.vocabulary.clock import iso
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.memberships import check_project
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.auth.users import get_user

PREFIX = "lct_"
_RANDOM_BYTES = 32
MAX_NAME = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``token`` is shown to the caller once and exists nowhere else.

    Kept out of ``repr`` so that logging the object cannot leak it.
    """

    token: str = field(repr=False)
    info: dict[str, Any]

    @property
    def id(self) -> str:
        return self.info["id"]


def token_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A token as the API lists it: everything but the hash."""
    return {"id": doc["_id"], "kind": doc["kind"], "name": doc["name"], "user_id": doc["user_id"],
            "project": doc.get("project"), "run_id": doc.get("run_id"), "created_at": iso(doc["created_at"]),
            "created_by": doc["created_by"], "expires_at": iso(doc["expires_at"]), "revoked": doc["revoked"],
            "revoked_at": iso(doc.get("revoked_at")), "revoked_by": doc.get("revoked_by")}


def _check_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME or _CONTROL.search(name):
        raise InvalidArgument(f"a token name is a note of at most {MAX_NAME} characters without control characters "
                              f"(e.g. 'laptop'), got {name!r}")
    return name


async def insert_token(auth: AuthStore, actor: Actor, doc: dict[str, Any]) -> IssuedToken:
    """Store a new token described by ``doc`` (its kind, owner, expiry…) and record it; the token."""
    token = new_token()
    doc = {"_id": uuid.uuid4().hex, "hash": hash_token(token), "created_at": auth.clock(),
           "created_by": actor.subject, "revoked": False, **doc}
    await auth.tokens.add(doc)
    await auth.audit.record(actor, "token.created", "succeeded", project=doc.get("project"),
                            target=f"token:{doc['_id']}",
                            reason=f"{doc['kind']} token, expires {iso(doc['expires_at'])}")
    return IssuedToken(token, token_json(doc))


async def issue_user_token(auth: AuthStore, user_id: str, actor: Actor, *, name: str = "",
                           ttl: timedelta | None = None) -> IssuedToken:
    """Issue a token acting as user ``user_id`` for ``ttl`` (default ``settings.user_token_ttl``)."""
    limit = auth.settings.max_user_token_ttl
    ttl = auth.settings.user_token_ttl if ttl is None else ttl
    if not timedelta(0) < ttl <= limit:
        raise InvalidArgument(f"a user token lives from 1 second to {limit.days} days, asked for {ttl}; "
                              "issue a new token when it nears its end instead")
    user = await get_user(auth, user_id)
    if user["disabled"]:
        raise InvalidArgument(f"user {user['name']!r} is disabled; enable it before issuing tokens")
    return await insert_token(auth, actor, {"kind": "user", "name": _check_name(name), "user_id": user_id,
                                       "expires_at": auth.clock() + ttl})


async def issue_job_token(auth: AuthStore, *, project: str, run_id: str, issuer_id: str, expires_at: datetime,
                          actor: Actor) -> IssuedToken:
    """Issue a token for run ``run_id`` of ``project``, valid until ``expires_at`` (the run's end).

    The caller checked that the issuer may issue job tokens in ``project`` (``jobs:issue``); the
    token also stops working as soon as the issuer loses that right (see ``authenticate.py``).
    """
    limit = auth.settings.max_job_token_ttl
    if not auth.clock() < expires_at <= auth.clock() + limit:
        raise InvalidArgument(f"a job token expires within {limit.days} days, when its run is expected to end; "
                              f"got expires_at={iso(expires_at)}")
    if not isinstance(run_id, str) or not 0 < len(run_id) <= 128 or _CONTROL.search(run_id):
        raise InvalidArgument(f"run_id must be the run's id (1-128 characters, no control characters), got {run_id!r}")
    await get_user(auth, issuer_id)
    return await insert_token(auth, actor, {"kind": "job", "name": f"run {run_id}", "user_id": issuer_id,
                                       "project": check_project(project), "run_id": run_id,
                                       "expires_at": expires_at})


async def revoke_token(auth: AuthStore, token_id: str, actor: Actor, *, owner: str | None = None) -> bool:
    """Revoke a token: it fails from the next request on, in every gateway process.

    With ``owner`` (a user id) only that user's tokens are found — how a user revokes their own.
    Returns ``False`` when the token was already revoked; :class:`NotFound` when there is none.
    """
    doc = await auth.tokens.revoke(token_id, owner=owner, at=auth.clock(), by=actor.subject)
    if doc is None:
        if not await auth.tokens.exists(token_id, owner=owner):
            raise NotFound(f"no token with id {token_id!r}" + (" among yours" if owner else ""))
        return False
    await auth.audit.record(actor, "token.revoked", "succeeded", project=doc.get("project"),
                            target=f"token:{token_id}")
    return True


async def revoke_run_tokens(auth: AuthStore, run_id: str, actor: Actor) -> int:
    """Revoke every live job token of run ``run_id`` (when the run ends early); returns how many."""
    return sum([await revoke_token(auth, token_id, actor) for token_id in await auth.tokens.live_ids_of_run(run_id)])


async def list_tokens(auth: AuthStore, *, user_id: str | None = None, run_id: str | None = None,
                      include_revoked: bool = False) -> list[dict[str, Any]]:
    """Tokens (as :func:`token_json`), newest first, of one user (owned or issued) and/or one run."""
    docs = await auth.tokens.listing(user_id=user_id, run_id=run_id, include_revoked=include_revoked)
    return [token_json(d) for d in docs]
