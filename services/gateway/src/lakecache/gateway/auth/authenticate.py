"""From an ``Authorization: Bearer <token>`` header to a principal, or :class:`Unauthenticated`.

No cache: every request looks its token up by the unique ``hash`` index, then its user and
roles (three indexed point reads). So revoking a token, disabling a user or taking a role away
takes effect on the very next request in every gateway process, with no invalidation protocol
between processes. The reads cost well under a millisecond on the embedded store and MongoDB,
small next to the backend call every gateway request makes anyway; a short-lived cache is the
place to look only if a benchmark shows these reads matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakecache.core.errors import LakeCacheError
from lakecache.core.vocabulary.clock import iso
from lakecache.gateway.auth.actions import ACTIONS
from lakecache.gateway.auth.memberships import role_in, roles_of
from lakecache.gateway.auth.principals import JobPrincipal, Principal, UserPrincipal
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.auth.tokens import PREFIX, hash_token

_ISSUE_JOBS = ACTIONS["jobs:issue"].role


@dataclass(frozen=True)
class TokenOwner:
    """The non-secret facts of a token that failed, for the audit record of the denial."""

    token_id: str
    user_id: str
    subject: str
    kind: str


class Unauthenticated(LakeCacheError):
    """No valid token: answered with 401 and ``WWW-Authenticate: Bearer``.

    ``error`` is RFC 6750's code: ``None`` when no token was sent, ``invalid_request`` for a
    malformed header, ``invalid_token`` for an unknown, expired or revoked token. ``owner`` is
    set when the token is known (expired, revoked), so the denial can name it.
    """

    def __init__(self, message: str, *, error: str | None, owner: TokenOwner | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.owner = owner


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization`` header value, or :class:`Unauthenticated` saying what is wrong."""
    if not authorization:
        raise Unauthenticated("this route needs a token: send 'Authorization: Bearer <token>'", error=None)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'", error="invalid_request")
    if not token.startswith(PREFIX):
        raise Unauthenticated(f"the bearer token is not a LakeCache token (those start with {PREFIX!r})",
                              error="invalid_token")
    return token


async def authenticate(auth: AuthStore, authorization: str | None) -> Principal:
    """Verify the header's token and return who it acts for, with their current roles."""
    doc, user = await live_token(auth, bearer_token(authorization))
    if doc.get("session"):
        raise Unauthenticated("a browser session works from its cookie only; send an API token instead "
                              "(`lakecache token create`)", error="invalid_token", owner=_owner(doc, user))
    return await _principal(auth, doc, user)


async def authenticate_session(auth: AuthStore, secret: str) -> Principal:
    """Verify a session cookie's value (``lakecache.gateway.auth.sessions``): a live session
    whose opening token is live too; who it acts for."""
    if not secret.startswith(PREFIX):
        raise Unauthenticated("the session cookie holds no LakeCache session; sign in again", error="invalid_token")
    doc, user = await live_token(auth, secret)
    if not doc.get("session"):
        raise Unauthenticated("the session cookie holds an API token, not a session; sign in again",
                              error="invalid_token", owner=_owner(doc, user))
    parent = await auth.tokens.get(doc["parent_id"])
    if parent is None or parent["revoked"] or parent["expires_at"] <= auth.clock():
        raise Unauthenticated(f"the token this session was opened with ({doc['parent_id']}) was revoked or expired; "
                              "sign in again", error="invalid_token", owner=_owner(doc, user))
    return await _principal(auth, doc, user)


async def live_token(auth: AuthStore, token: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The stored document of ``token`` (known, not revoked, not expired; else
    :class:`Unauthenticated`) and its user's."""
    doc = await auth.tokens.by_hash(hash_token(token))
    if doc is None:
        raise Unauthenticated("the token is unknown to this installation (mistyped, or from another "
                              "installation); create a new one", error="invalid_token")
    user = await auth.users.get(doc["user_id"])
    owner = _owner(doc, user)
    if doc["revoked"]:
        raise Unauthenticated(f"token {doc['_id']} was revoked at {iso(doc.get('revoked_at'))}; create a new one",
                              error="invalid_token", owner=owner)
    if doc["expires_at"] <= auth.clock():
        raise Unauthenticated(f"token {doc['_id']} expired at {iso(doc['expires_at'])}; create a new one",
                              error="invalid_token", owner=owner)
    return doc, user


def _owner(doc: dict[str, Any], user: dict[str, Any] | None) -> TokenOwner:
    subject = f"run:{doc['run_id']}" if doc["kind"] == "job" else f"user:{user['name'] if user else doc['user_id']}"
    return TokenOwner(doc["_id"], doc["user_id"], subject, doc["kind"])


async def _principal(auth: AuthStore, doc: dict[str, Any], user: dict[str, Any] | None) -> Principal:
    owner = _owner(doc, user)
    if doc["kind"] == "job":
        return await _job(auth, doc, user, owner)
    if user is None or user["disabled"]:
        raise Unauthenticated(f"the user of token {doc['_id']} is disabled; ask an administrator",
                              error="invalid_token", owner=owner)
    return UserPrincipal(user["_id"], user["name"], doc["_id"], user["global_admin"],
                         await roles_of(auth, user["_id"]))


async def _job(auth: AuthStore, doc: dict[str, Any], issuer: dict[str, Any] | None, owner: TokenOwner) -> Principal:
    # A job token never outlives its issuer's right to issue it: otherwise removing someone from
    # a project would leave their running jobs' tokens able to read it for weeks.
    project = doc["project"]
    still_allowed = issuer is not None and not issuer["disabled"] and (
        issuer["global_admin"] or ((await role_in(auth, project, issuer["_id"])) or 0) >= _ISSUE_JOBS)
    if not still_allowed:
        who = repr(issuer["name"]) if issuer else "its issuer"
        raise Unauthenticated(f"job token {doc['_id']} of run {doc['run_id']} no longer works: {who} may no longer "
                              f"issue job tokens in project {project!r}", error="invalid_token", owner=owner)
    return JobPrincipal(doc["run_id"], project, doc["_id"], doc["user_id"])
