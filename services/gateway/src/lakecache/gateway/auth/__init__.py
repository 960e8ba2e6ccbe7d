"""Authentication and authorization of the gateway: tokens, users, roles, permissions, audit.

The pieces, one per module:

* ``roles`` — ``Role``: ``viewer`` < ``editor`` < ``admin``, per project.
* ``actions`` — ``ACTIONS``: every action a route may require and who may perform it.
* ``principals`` — ``UserPrincipal`` / ``JobPrincipal``: who is calling.
* ``policy`` — ``authorize(principal, action, resource) -> Decision``: the one decision.
* ``permissions`` — ``Permission``: a route's action and where its project/run are.
* ``routes`` — ``requires`` (how an operation's permission is attached to its route, by the
  registry of operations), ``RoutePolicy`` (public paths, the route table a test can enumerate).
* ``middleware`` — ``auth_middleware``: 401/403 problem+json, denial and mutation records.
* ``context`` — ``principal_of``/``actor_of``/``require`` for handlers.
* ``tokens`` / ``users`` / ``memberships`` — the stored facts, each change audited (kept by
  the repositories of ``lakecache.gateway.repositories``).
* ``authenticate`` — a bearer token to a principal, with no cache (revocation is immediate).
* ``audit`` — the append-only audit log.
* ``admin_token`` — the embedded default's first administrator and its token file.
* ``store`` / ``settings`` — the repositories, the clock and the knobs.

Job tokens (what a training job gets) act for one run: they may read their project's datasets
and cached copies, acquire/renew/release leases on its cached copies, log to their own run and
see who they are (``self:read``) — nothing else. Their scope is the project's datasets rather
than a list of commits fixed at issue time because a job resolves ``name@latest`` and picks its
inputs as it runs; the run records the exact commits it read (lineage), and the project is the
isolation boundary.
"""

from lakecache.gateway.auth.actions import ACTIONS, ActionSpec, Scope
from lakecache.gateway.auth.admin_token import AdminTokenFile, ensure_admin_token
from lakecache.gateway.auth.audit import Actor, AuditLog
from lakecache.gateway.auth.authenticate import Unauthenticated, authenticate
from lakecache.gateway.auth.context import Forbidden, actor_of, principal_of, require
from lakecache.gateway.auth.middleware import auth_middleware
from lakecache.gateway.auth.permissions import Permission
from lakecache.gateway.auth.policy import Decision, Resource, authorize
from lakecache.gateway.auth.principals import JobPrincipal, Principal, UserPrincipal
from lakecache.gateway.auth.roles import Role
from lakecache.gateway.auth.routes import PUBLIC, RoutePolicy, RouteRule, requires
from lakecache.gateway.auth.settings import AuthSettings
from lakecache.gateway.auth.store import AuthStore

__all__ = [
    "ACTIONS", "PUBLIC", "ActionSpec", "Actor", "AdminTokenFile", "AuditLog", "AuthSettings", "AuthStore",
    "Decision", "Forbidden", "JobPrincipal", "Permission", "Principal", "Resource", "Role", "RoutePolicy",
    "RouteRule", "Scope", "Unauthenticated", "UserPrincipal", "actor_of", "auth_middleware", "authenticate",
    "authorize", "ensure_admin_token", "principal_of", "require", "requires",
]
