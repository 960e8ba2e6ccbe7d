"""Property: what one project does to its copy of a commit never changes what is decided about
another project's copy of the same commit.

Random schedules of facts about two projects' copies of the same few commits on the same volumes
(the same lease ids too) are played twice: in full, and without the second project's facts. The
first project's decisions, declined requests and explanations must come out the same. The volume
is the one thing the copies share (both count towards its usage), so capacity is kept out of play:
volumes report far more capacity than is used and no fill asks for space.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lakecache.evictor.policy import (
    CopyEvicted,
    CopyRead,
    CopyReady,
    Decision,
    EvictionDeclined,
    EvictionRefused,
    EvictRequested,
    LeaseAcquired,
    LeaseReleased,
    LeaseRenewed,
    Outcome,
    PinChanged,
    PolicySettings,
    SiteState,
    Tick,
    TtlChanged,
    VolumeReported,
    VolumeWithdrawn,
    apply,
    explain,
)
from lakecache.evictor.policy import state as state_module

# The package exports the function ``apply`` under the module's name.
apply_module = importlib.import_module("lakecache.evictor.policy.apply")

SITE = "lab"
WATCHED, OTHER = "alpha", "beta"
PROJECTS = (WATCHED, OTHER)
VOLUMES = ("v1", "v2")
COMMITS = ("c0", "c1")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
POLICIES = {False: PolicySettings(default_ttl_seconds=600, redecide_after_seconds=300, forget_after_seconds=3600),
            True: PolicySettings(default_ttl_seconds=600, redecide_after_seconds=300, forget_after_seconds=3600,
                                 dry_run=True)}
CAPACITY = 10**12


def dataset(project: str, commit: str) -> str:
    return f"{project}-d{commit}"


def timed(actions: list[tuple]) -> list[tuple[datetime, tuple]]:
    """Each action with its time, computed over the whole schedule, so that both plays stamp an
    action the same whichever actions they skip."""
    now, out = T0, []
    for action in actions:
        now += timedelta(seconds=action[1]) if action[0] == "tick" else timedelta(milliseconds=1)
        out.append((now, action))
    return out


def fact_of(state: SiteState, index: int, at: datetime, action: tuple) -> Any:
    """The fact an action states (None when it has nothing to say in this state)."""
    kind, *args = action
    if kind == "tick":
        return Tick(SITE, at)
    if kind == "report":
        volume, ttl = args
        return VolumeReported(SITE, volume, CAPACITY, 0, ttl, None, None, at)
    if kind == "withdraw":
        return VolumeWithdrawn(SITE, args[0], "it breaks the volume rules", at)
    if kind == "ttl":
        scope, target, ttl = args
        return TtlChanged(SITE, scope, target, ttl, at)
    project, volume, commit, *rest = args
    if kind == "ready":
        return CopyReady(SITE, volume, project, commit, dataset(project, commit), 200, 100, index, at)
    if kind == "read":
        return CopyRead(SITE, None if rest[0] else volume, project, commit, at)
    if kind == "lease":
        lease, ttl = rest
        return LeaseAcquired(SITE, volume, project, commit, f"l{lease}", at + timedelta(seconds=ttl), index, at,
                             holder="job")
    if kind == "renew":
        lease, ttl = rest
        return LeaseRenewed(SITE, volume, project, commit, f"l{lease}", at + timedelta(seconds=ttl), index, at)
    if kind == "release":
        return LeaseReleased(SITE, volume, project, commit, f"l{rest[0]}", index, at)
    if kind == "pin":
        return PinChanged(SITE, volume, project, commit, rest[0], index, at)
    if kind == "evict":
        return EvictRequested(SITE, volume, project, commit, "operator", at)
    # "answer": the cacher's answer to the copy's pending decision, if it has one
    copy = state.find(volume, project, commit)
    record = copy.current_decision() if copy is not None else None
    if record is None or record.outcome != "pending":
        return None
    if rest[0] == "evicted":
        return CopyEvicted(SITE, volume, project, commit, record.decision_id, 100, at)
    return EvictionRefused(SITE, volume, project, commit, record.decision_id, "refused", at)


def about_watched(outcome: Outcome) -> Any:
    """An outcome about the watched project's copy, without what it says about the shared volume."""
    assert isinstance(outcome, Decision | EvictionDeclined), f"capacity came into play: {outcome}"
    if isinstance(outcome, Decision):
        return replace(outcome, facts={k: v for k, v in outcome.facts.items() if k != "volume"})
    return outcome


def play(actions: list[tuple], policy: PolicySettings, *, skip: str | None = None) -> tuple[list, dict]:
    """Apply the schedule (without the facts about ``skip``'s copies); return what was decided about
    the watched project's copies, in order, and how each of them is explained at the end."""
    state, decided, last = SiteState(SITE), [], T0
    for index, (at, action) in enumerate(timed(actions)):
        last = at
        if action[0] not in ("tick", "report", "withdraw", "ttl") and action[1] == skip:
            continue
        fact = fact_of(state, index, at, action)
        if fact is not None:
            decided += [about_watched(o) for o in apply(state, fact, policy) if o.project == WATCHED]
    explained = {(volume, commit): {k: v for k, v in explain(state, volume, WATCHED, commit, last, policy).items()
                                    if k != "volume_state"}
                 for volume in VOLUMES for commit in COMMITS}
    return decided, explained


projects, volumes, commits = st.sampled_from(PROJECTS), st.sampled_from(VOLUMES), st.sampled_from(COMMITS)
leases = st.integers(0, 2)
lease_ttls = st.sampled_from([60, 400, 900])
about_a_copy = st.one_of(
    st.tuples(st.just("ready"), projects, volumes, commits),
    st.tuples(st.just("ready"), projects, volumes, commits),
    st.tuples(st.just("read"), projects, volumes, commits, st.booleans()),
    st.tuples(st.just("lease"), projects, volumes, commits, leases, lease_ttls),
    st.tuples(st.just("renew"), projects, volumes, commits, leases, lease_ttls),
    st.tuples(st.just("release"), projects, volumes, commits, leases),
    st.tuples(st.just("pin"), projects, volumes, commits, st.booleans()),
    st.tuples(st.just("evict"), projects, volumes, commits),
    st.tuples(st.just("answer"), projects, volumes, commits, st.sampled_from(["evicted", "refused"])),
)
site_wide = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from([1, 30, 200, 301, 650, 3600])),
    st.tuples(st.just("tick"), st.sampled_from([1, 30, 200, 301, 650, 3600])),
    st.tuples(st.just("report"), volumes, st.sampled_from([None, 300, 1200])),
    st.tuples(st.just("withdraw"), volumes),
    st.tuples(st.just("ttl"), st.just("commit"), commits, st.sampled_from([None, 120, 2000])),
    st.tuples(st.just("ttl"), st.just("dataset"), st.builds(dataset, projects, commits),
              st.sampled_from([None, 120, 2000])),
)
schedules = st.lists(st.one_of(about_a_copy, about_a_copy, site_wide), min_size=10, max_size=80)


@settings(max_examples=150, deadline=None)
@given(schedules, st.booleans())
def test_another_projects_facts_about_the_same_commit_never_change_what_is_decided_about_a_copy(actions, dry_run):
    policy = POLICIES[dry_run]
    alone_decided, alone_explained = play(actions, policy, skip=OTHER)
    decided, explained = play(actions, policy)

    assert decided == alone_decided
    assert explained == alone_explained
    json.dumps(list(explained.values()))  # and every answer stays JSON


def test_the_comparison_sees_a_copy_shared_between_projects(monkeypatch):
    # Keyed by commit alone, as before copies were per project, the other project's lease would
    # protect the watched copy: the two plays then differ, so the property above can fail.
    monkeypatch.setattr(state_module, "copy_key", lambda project, commit_id: commit_id)
    monkeypatch.setattr(apply_module, "copy_key", lambda project, commit_id: commit_id)
    actions = [("ready", WATCHED, "v1", "c0"), ("ready", OTHER, "v1", "c0"), ("lease", OTHER, "v1", "c0", 0, 900),
               ("tick", 650)]
    decided, _ = play(actions, POLICIES[False])
    alone_decided, _ = play(actions, POLICIES[False], skip=OTHER)
    assert decided == [] and [d.commit_id for d in alone_decided] == ["c0"]
