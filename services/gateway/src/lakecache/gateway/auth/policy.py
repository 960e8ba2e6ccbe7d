"""The one authorization decision: may this principal perform this action on this resource?

Deny by default: an unknown action, a missing principal, a project-scoped action without a
project, a job token outside its project or run — all deny. :func:`authorize` is pure (no I/O):
the principal already carries its roles, and the resource says which project (and run) the
request touches. Reasons are sentences for people; they go into 403 responses and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakecache.gateway.auth.actions import ACTIONS, JOB_SCOPE, ActionSpec, Scope
from lakecache.gateway.auth.principals import JobPrincipal, Principal, UserPrincipal


@dataclass(frozen=True)
class Resource:
    """What a request touches: its project and, for run-bound actions, its run.

    The project must come from where the resource lives (its URL path, or a lookup of the
    object the request names), never from a free field the caller could set to another
    project than the one the object belongs to.
    """

    project: str | None = None
    run: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    @classmethod
    def allow(cls, reason: str) -> Decision:
        return cls(True, reason)

    @classmethod
    def deny(cls, reason: str) -> Decision:
        return cls(False, reason)


def authorize(principal: Principal | None, action: str, resource: Resource) -> Decision:
    """Decide whether ``principal`` may perform ``action`` (a name in ``ACTIONS``) on ``resource``.

    Installation administrators may do everything that exists; users need the action's role in
    the resource's project (or, for installation actions, the administrator flag); job tokens
    may only perform job actions inside their own project, and run-bound ones on their own run.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        return Decision.deny(f"unknown action {action!r}: nothing allows it")
    if principal is None:
        return Decision.deny("the request is not authenticated")
    if isinstance(principal, JobPrincipal):
        return _authorize_job(principal, spec, resource)
    return _authorize_user(principal, spec, resource)


def _authorize_user(user: UserPrincipal, spec: ActionSpec, resource: Resource) -> Decision:
    if user.global_admin:
        return Decision.allow(f"{user.subject} is an installation administrator")
    if spec.scope is Scope.INSTALLATION:
        return Decision.deny(f"{spec.name} ({spec.description}) is reserved to installation administrators")
    if spec.scope is Scope.AUTHENTICATED:
        return Decision.allow(f"any signed-in user may {spec.description}")
    if resource.project is None:
        return Decision.deny(f"{spec.name} needs a project and the request names none")
    role = user.roles.get(resource.project)
    if role is None:
        return Decision.deny(f"{user.subject} has no role in project {resource.project!r}")
    assert spec.role is not None  # every project action names its least role (see ACTIONS)
    if role < spec.role:
        return Decision.deny(f"{user.subject} is {role} of project {resource.project!r}; "
                             f"{spec.name} needs {spec.role} or higher")
    return Decision.allow(f"{user.subject} is {role} of project {resource.project!r}")


def _authorize_job(job: JobPrincipal, spec: ActionSpec, resource: Resource) -> Decision:
    if not spec.job:
        return Decision.deny(f"a job token may only {JOB_SCOPE}; {spec.name} ({spec.description}) is not among them")
    if spec.scope is Scope.AUTHENTICATED:  # about the token itself (who am I), not about a project
        return Decision.allow(f"{job.subject} may {spec.description}")
    if resource.project != job.project:
        return Decision.deny(f"the job token of run {job.run_id} belongs to project {job.project!r}, "
                             f"not {resource.project!r}")
    if spec.run_bound and resource.run != job.run_id:
        return Decision.deny(f"the job token of run {job.run_id} acts on its own run only, "
                             f"not on run {resource.run!r}")
    return Decision.allow(f"{job.subject} may {spec.description} in project {job.project!r}")
