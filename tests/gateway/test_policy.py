"""authorize(): roles in order, per project; installation actions; job tokens; deny by default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.auth import (
    ACTIONS,
    JobPrincipal,
    Permission,
    Resource,
    Role,
    Scope,
    UserPrincipal,
    authorize,
)

PROJECT_ACTIONS = sorted(a for a, s in ACTIONS.items() if s.scope is Scope.PROJECT)
JOB_ALLOWED = {"datasets:read", "caches:read", "leases:write", "runs:log"}
#: About the job token itself (who am I), so not confined to a project.
JOB_ANYWHERE = {"self:read"}


def user(roles: dict[str, Role] | None = None, *, admin: bool = False) -> UserPrincipal:
    return UserPrincipal("u1", "ada", "t1", admin, roles or {})


def job(project: str = "vision", run: str = "run-1") -> JobPrincipal:
    return JobPrincipal(run, project, "t2", issued_by="u1")


def test_roles_are_ordered_and_parsed_by_name():
    assert Role.VIEWER < Role.EDITOR < Role.ADMIN
    assert [Role.parse(n) for n in ("viewer", "editor", "admin")] == list(Role)
    assert str(Role.EDITOR) == "editor"
    with pytest.raises(InvalidArgument, match="viewer, editor, admin"):
        Role.parse("owner")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_role_allows_exactly_the_project_actions_at_or_below_it(role, action):
    spec = ACTIONS[action]
    decision = authorize(user({"vision": role}), action, Resource("vision", "run-1"))
    expected = spec.scope is Scope.AUTHENTICATED or (spec.scope is Scope.PROJECT and role >= spec.role)
    assert decision.allowed is expected, decision.reason


def test_the_reason_names_the_role_held_and_the_role_needed():
    decision = authorize(user({"vision": Role.VIEWER}), "datasets:write", Resource("vision"))
    assert not decision.allowed
    assert decision.reason == "user:ada is viewer of project 'vision'; datasets:write needs editor or higher"


@pytest.mark.parametrize("action", PROJECT_ACTIONS)
def test_a_role_in_one_project_grants_nothing_in_another(action):
    decision = authorize(user({"vision": Role.ADMIN}), action, Resource("speech"))
    assert not decision.allowed and "no role in project 'speech'" in decision.reason


@pytest.mark.parametrize("action", PROJECT_ACTIONS)
def test_project_actions_without_a_project_are_denied(action):
    assert not authorize(user({"vision": Role.ADMIN}), action, Resource()).allowed


def test_installation_actions_need_the_administrator_flag():
    for action in (a for a, s in ACTIONS.items() if s.scope is Scope.INSTALLATION):
        assert not authorize(user({"vision": Role.ADMIN}), action, Resource("vision")).allowed
        assert authorize(user(admin=True), action, Resource()).allowed


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_installation_administrator_may_do_every_known_action(action):
    assert authorize(user(admin=True), action, Resource("any-project", "any-run")).allowed


def test_unknown_actions_and_missing_principals_are_denied():
    assert not authorize(user(admin=True), "datasets:destroy", Resource("vision")).allowed
    assert not authorize(None, "datasets:read", Resource("vision")).allowed


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_job_token_may_only_read_inputs_lease_and_log_to_its_run(action):
    decision = authorize(job(), action, Resource("vision", "run-1"))
    assert decision.allowed is (action in JOB_ALLOWED | JOB_ANYWHERE), decision.reason


def test_a_job_token_logs_to_its_own_run_only():
    assert authorize(job(run="run-1"), "runs:log", Resource("vision", "run-1")).allowed
    denied = authorize(job(run="run-1"), "runs:log", Resource("vision", "run-2"))
    assert not denied.allowed and "own run only" in denied.reason
    assert not authorize(job(run="run-1"), "runs:log", Resource("vision")).allowed


@pytest.mark.parametrize("action", sorted(JOB_ALLOWED))
def test_a_job_token_never_reaches_another_project(action):
    decision = authorize(job(project="vision"), action, Resource("speech", "run-1"))
    assert not decision.allowed and "belongs to project 'vision'" in decision.reason


_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@given(roles=st.dictionaries(_names, st.sampled_from(list(Role)), max_size=4), project=_names,
       action=st.sampled_from(PROJECT_ACTIONS), run=st.none() | _names)
def test_no_role_in_a_project_means_no_access_to_it(roles, project, action, run):
    roles.pop(project, None)
    assert not authorize(user(roles), action, Resource(project, run)).allowed


@given(own=_names, other=_names, action=st.sampled_from(sorted(set(ACTIONS) - JOB_ANYWHERE)),
       run=st.none() | _names)
def test_job_tokens_are_confined_to_their_project(own, other, action, run):
    if own != other:
        assert not authorize(job(project=own, run="r"), action, Resource(other, run)).allowed


def test_a_job_token_may_see_who_it_is_whatever_the_request_names():
    for resource in (Resource(), Resource("speech", "run-9")):
        assert authorize(job(project="vision"), "self:read", resource).allowed


def test_permissions_refuse_unknown_actions_and_missing_sources_when_declared():
    with pytest.raises(ValueError, match="unknown action"):
        Permission("datasets:destroy", project_from="match_info:project")
    with pytest.raises(ValueError, match="project_from"):
        Permission("datasets:read")
    with pytest.raises(ValueError, match="run_from"):
        Permission("runs:log", project_from="match_info:project")
    with pytest.raises(ValueError, match="where one of"):
        Permission("datasets:read", project_from="cookie:project")
    assert Permission("sites:read").project_from is None
