"""The gateway's own API under ``/api/v1``: identity, users, members, tokens, audit, reference.

Each module ends with its ``OPERATIONS`` (see ``lakecache.gateway.http.operation``);
:func:`api_registry` joins them in the order of the API reference.
"""

from __future__ import annotations

from lakecache.gateway.api import audit, me, members, reference, tokens, users
from lakecache.gateway.http.registry import Registry


def api_registry() -> Registry:
    return Registry([*me.OPERATIONS, *tokens.OPERATIONS, *users.OPERATIONS, *members.OPERATIONS, *audit.OPERATIONS,
                     *reference.OPERATIONS])
