"""Identity assertions: how a service proves who it acts for, on one request to one service.

    token = mint_assertion(key, audience="catalog", subject="user:alice", action="datasets:write",
                           project="vision", method="POST", target="/api/v1/datasets/vision/cats/commits")
    → Authorization: Bearer <token>

Claims: ``sub`` (the principal, e.g. ``user:alice``, ``run:<id>``, ``service:gateway``),
``act`` (the action the issuer authorized), ``prj`` (the project it was authorized in; null for
installation-wide actions), ``htm`` and ``htu`` (the request's method and target: raw path and
query, exactly as sent). An assertion is valid for one method and target at one service for
seconds (``identity.assertion_ttl_seconds``), so a captured one cannot be replayed against
another route, another service or later; a service also refuses a second use of the same
assertion on a non-safe method.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakecache.core.identity.keys import KeyRing, SigningKey
from lakecache.core.identity.tokens import ASSERTION, InvalidCredential, sign, verify


@dataclass(frozen=True)
class Assertion:
    """A verified assertion: who the caller acts for and what it was allowed."""

    issuer: str
    subject: str
    action: str
    project: str | None
    id: str
    expires_at: int


def mint_assertion(key: SigningKey, *, audience: str, subject: str, action: str, project: str | None,
                   method: str, target: str, ttl_seconds: float = 60.0, now: float | None = None) -> str:
    """An assertion from ``key``'s service to ``audience`` for ``method target``."""
    claims = {"sub": subject, "act": action, "prj": project, "htm": method.upper(), "htu": target}
    return sign(key, ASSERTION, audience, claims, ttl_seconds, now=now)


def verify_assertion(token: str, keys: KeyRing, *, audience: str, issuers: frozenset[str] | set[str],
                     method: str, target: str, leeway_seconds: float = 5.0) -> Assertion:
    """The assertion ``token`` makes about this request (``method``, ``target``), or
    ``InvalidCredential`` saying why it does not hold."""
    verified = verify(token, keys, ASSERTION, audience=audience, issuers=issuers, leeway_seconds=leeway_seconds)
    claims = verified.claims
    subject, action, project = claims.get("sub"), claims.get("act"), claims.get("prj")
    if not isinstance(subject, str) or not subject or not isinstance(action, str) or not action:
        raise InvalidCredential("the assertion names no subject or action")
    if project is not None and (not isinstance(project, str) or not project):
        raise InvalidCredential("the assertion's project is not a name")
    if claims.get("htm") != method.upper() or claims.get("htu") != target:
        raise InvalidCredential(f"the assertion was signed for {claims.get('htm')} {str(claims.get('htu'))[:200]}, "
                                f"not for this request ({method.upper()} {target[:200]})")
    return Assertion(verified.issuer, subject, action, project, str(claims["jti"]), int(claims["exp"]))
