"""Signed statements between services: JSON Web Tokens (RFC 7519) signed with Ed25519 (EdDSA).

Two kinds, told apart by the header's ``typ`` so one can never pass for the other:

* an **assertion** (:data:`ASSERTION`) — "``sub`` may perform ``act`` in project ``prj``,
  on this request": the gateway signs one for every request it forwards, for one audience
  (the service), one method and one request target (``htm``, ``htu``, the names of RFC 9449),
  valid for seconds. Services verify it on every route but the probes.
* a **source grant** (:data:`SOURCE_GRANT`) — the catalog's word on where a commit's bytes may
  be read from (see ``lakecache.core.identity.grants``).

Every token carries ``iss``, ``aud``, ``iat``, ``exp`` and a random ``jti``, and names its key
in the header (``kid``). Verification picks the key by id, checks that the key belongs to the
issuer the token claims and that this issuer is trusted for this audience, then the signature,
audience, expiry and type. Errors say what was wrong, never the token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from lakecache.core.errors import LakeCacheError
from lakecache.core.identity.keys import KeyRing, SigningKey

ASSERTION = "lakecache-assertion+jwt"
SOURCE_GRANT = "lakecache-source-grant+jwt"
_ALGORITHM = "EdDSA"
_REQUIRED = ("iss", "aud", "iat", "exp", "jti")


class InvalidCredential(LakeCacheError):
    """A signed statement is missing, malformed, expired, for someone else or signed by an
    untrusted key. The message says which, for people and logs."""


def sign(key: SigningKey, kind: str, audience: str, claims: dict[str, Any], ttl_seconds: float, *,
         now: float | None = None) -> str:
    """A ``kind`` token from ``key``'s issuer to ``audience``, valid ``ttl_seconds``."""
    issued = int(now if now is not None else time.time())
    payload = {**claims, "iss": key.issuer, "aud": audience, "iat": issued, "exp": issued + int(ttl_seconds),
               "jti": secrets.token_hex(16)}
    return jwt.encode(payload, key.private, algorithm=_ALGORITHM, headers={"kid": key.kid, "typ": kind})


@dataclass(frozen=True)
class Verified:
    issuer: str
    claims: dict[str, Any]


def verify(token: str, keys: KeyRing, kind: str, *, audience: str, issuers: frozenset[str] | set[str],
           leeway_seconds: float = 5.0) -> Verified:
    """The claims of ``token`` if it is a valid ``kind`` token to ``audience`` from one of
    ``issuers``; ``InvalidCredential`` otherwise. No I/O: refresh ``keys`` on an unknown id first
    (:func:`unknown_key`)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidCredential("the credential is not a signed LakeCache token (malformed JWT)") from None
    if header.get("typ") != kind:
        raise InvalidCredential(f"the credential is a {header.get('typ')!r} token, not a {kind!r}")
    if header.get("alg") != _ALGORITHM:
        raise InvalidCredential(f"the credential is signed with {header.get('alg')!r}; only EdDSA is accepted")
    trusted = keys.trusted(str(header.get("kid", "")))
    if trusted is None:
        raise InvalidCredential(f"the credential is signed by key {str(header.get('kid'))[:32]!r}, which this "
                                "service does not trust (unknown or removed key; check the keys directory)")
    if trusted.issuer not in issuers:
        raise InvalidCredential(f"the credential is signed by {trusted.issuer!r}, which may not call this service "
                                f"(trusted: {', '.join(sorted(issuers)) or 'none'})")
    try:
        claims = jwt.decode(token, trusted.public, algorithms=[_ALGORITHM], audience=audience,
                            leeway=leeway_seconds, options={"require": list(_REQUIRED)})
    except jwt.ExpiredSignatureError:
        raise InvalidCredential("the credential has expired; the caller must sign a fresh one") from None
    except jwt.InvalidAudienceError:
        raise InvalidCredential(f"the credential is meant for another service, not {audience!r}") from None
    except jwt.ImmatureSignatureError:
        raise InvalidCredential("the credential is issued in the future: check the clocks of the hosts") from None
    except jwt.PyJWTError as exc:
        raise InvalidCredential(f"the credential is invalid: {exc}") from None
    if claims.get("iss") != trusted.issuer:
        raise InvalidCredential(f"the credential claims issuer {claims.get('iss')!r} but is signed by "
                                f"{trusted.issuer!r}'s key")
    return Verified(trusted.issuer, claims)


def unknown_key(token: str, keys: KeyRing) -> bool:
    """Whether ``token`` names a key id ``keys`` does not know (worth one re-read of the directory)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return False
    return isinstance(kid, str) and keys.trusted(kid) is None
