"""The names of the actions a request may perform: one vocabulary for every service.

The gateway decides who may perform which action (its ``ACTIONS`` table gives each a scope and
a least role); every service declares, for each of its routes, the one action the route
performs, and accepts a request only when the caller's assertion was signed for that action.
A test keeps the gateway's table and this list equal.
"""

from __future__ import annotations

#: Actions performed in one project (the assertion names the project).
PROJECT_ACTIONS = frozenset({
    "datasets:read", "datasets:write", "datasets:delete",
    "caches:read", "caches:request", "caches:pin", "caches:evict",
    "leases:write",
    "runs:read", "runs:write", "runs:log", "jobs:issue",
    "members:read", "members:write",
})

#: Actions about the installation or the caller themselves (no project).
INSTALLATION_ACTIONS = frozenset({
    "self:read", "tokens:own",
    "sites:read", "sites:write",
    "imports:admin",
    "users:read", "users:write", "audit:read", "metrics:read",
})

ACTION_NAMES = PROJECT_ACTIONS | INSTALLATION_ACTIONS
