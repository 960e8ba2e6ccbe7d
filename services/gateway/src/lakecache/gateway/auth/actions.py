"""Every action a route may require, and who may perform it: the one table authorization reads.

An action names a kind of operation (``datasets:read``), not a route: many routes share one.
A route whose action is missing from this table cannot be declared (``Permission`` refuses it
when the route table is built), so a typo fails at start-up instead of silently denying.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from lakecache.gateway.auth.roles import Role


class Scope(Enum):
    """Where the right to perform an action comes from."""

    #: A role (at least ``ActionSpec.role``) in the project the request touches.
    PROJECT = "project"
    #: Installation administrators only (users, sites, the audit log).
    INSTALLATION = "installation"
    #: Any signed-in user: things about oneself, shared read-only facts. Job tokens only where
    #: the action says ``job`` (their own identity), and then whatever their project.
    AUTHENTICATED = "authenticated"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    scope: Scope
    description: str
    #: The least project role that allows it (``Scope.PROJECT`` only).
    role: Role | None = None
    #: Job tokens may perform it, in their own project only.
    job: bool = False
    #: The resource is a run: a job token may perform it on its own run only.
    run_bound: bool = False


_P, _I, _A = Scope.PROJECT, Scope.INSTALLATION, Scope.AUTHENTICATED
_V, _E, _ADM = Role.VIEWER, Role.EDITOR, Role.ADMIN

ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in (
    ActionSpec("datasets:read", _P, "read datasets, commits, refs, entries, tags", _V, job=True),
    ActionSpec("datasets:write", _P, "create datasets, commit, tag, change metadata", _E),
    ActionSpec("datasets:delete", _P, "delete a dataset", _ADM),
    ActionSpec("caches:read", _P, "see cached copies and their paths", _V, job=True),
    ActionSpec("caches:request", _P, "ask for a commit to be cached at a site", _E),
    ActionSpec("caches:pin", _P, "pin or unpin a cached copy", _ADM),
    ActionSpec("caches:evict", _P, "evict a cached copy now (never while it is leased or pinned)", _E),
    ActionSpec("leases:write", _P, "acquire, renew and release leases on cached copies", _E, job=True),
    ActionSpec("runs:read", _P, "read runs, params, metrics, lineage", _V),
    ActionSpec("runs:write", _P, "create runs and experiments, change their tags", _E),
    ActionSpec("runs:log", _P, "log params, metrics, inputs and the status of a run", _E, job=True, run_bound=True),
    ActionSpec("jobs:issue", _P, "issue a job token for a run", _E),
    ActionSpec("members:read", _P, "list the project's members and roles", _V),
    ActionSpec("members:write", _P, "grant and revoke roles in the project", _ADM),
    ActionSpec("self:read", _A, "see who one is: one's identity and roles", job=True),
    ActionSpec("tokens:own", _A, "create, list and revoke one's own tokens"),
    ActionSpec("sites:read", _A, "list sites, volumes and their policies"),
    ActionSpec("sites:write", _I, "register volumes, change TTL and capacity policies"),
    ActionSpec("imports:admin", _I, "register and remove the lake locations a project may import from"),
    ActionSpec("users:read", _I, "list users"),
    ActionSpec("users:write", _I, "create, disable and promote users; revoke anyone's token"),
    ActionSpec("audit:read", _I, "read the audit log"),
    ActionSpec("metrics:read", _I, "read the gateway's Prometheus metrics"),
)}

#: What a job token may do, for people (error messages, docs).
JOB_SCOPE = ("read its project's datasets and cached copies, lease cached copies of its project, "
             "log to its own run and see who it is")
