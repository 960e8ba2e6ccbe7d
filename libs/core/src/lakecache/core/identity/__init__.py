"""Service identity: keys, and the statements services sign for one another (assertions,
source grants). How an internal service enforces them on its routes is
``lakecache.core.runtime.access``; ``docs/security.md`` describes the trust boundaries and
ADR 0011 why they look the way they do.
"""

from lakecache.core.identity.assertions import Assertion, mint_assertion, verify_assertion
from lakecache.core.identity.keys import KeyRing, SigningKey
from lakecache.core.identity.tokens import InvalidCredential

__all__ = ["Assertion", "InvalidCredential", "KeyRing", "SigningKey", "mint_assertion", "verify_assertion"]
