"""The eviction policy, rule by rule, as short scenarios of facts at one site."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from lakecache.core.vocabulary import eviction
from lakecache.evictor.policy import (
    MAX_TTL_SECONDS,
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
    NothingEligible,
    PinChanged,
    PolicySettings,
    SiteState,
    SpaceNeeded,
    Tick,
    TtlChanged,
    VolumeReported,
    VolumeWithdrawn,
    apply,
    decision_id,
    explain,
)
from lakecache.evictor.settings import EvictorSection

SITE, VOLUME, PROJECT = "dgx", "fast", "team"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
SECOND, MINUTE, HOUR, DAY = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
WITHDRAWN = "volume path '/mnt/fast' is the same directory as volume 'nfs1' (/mnt/fast)"


def at(span: timedelta = timedelta(0)) -> datetime:
    return T0 + span


class Site:
    """One site's policy state and a fact vocabulary short enough to read as a scenario."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.state = SiteState(SITE)
        self.settings = settings or PolicySettings()

    def __call__(self, fact):
        return apply(self.state, fact, self.settings)

    def report(self, when=T0, *, capacity=1000, used=0, volume=VOLUME, ttl=None, high=None, low=None):
        return self(VolumeReported(SITE, volume, capacity, used, ttl, high, low, when))

    def ready(self, commit, when=T0, *, fetched=100, volume=VOLUME, dataset="ds-1", generation=0, project=PROJECT):
        return self(CopyReady(SITE, volume, project, commit, dataset, fetched * 2, fetched, generation, when))

    def read(self, commit, when, volume=VOLUME, project=PROJECT):
        return self(CopyRead(SITE, volume, project, commit, when))

    def lease(self, commit, when, until, lease_id="lease-1", generation=None, holder="job-7", project=PROJECT):
        return self(LeaseAcquired(SITE, VOLUME, project, commit, lease_id, until, generation, when, holder=holder))

    def release(self, commit, when, lease_id="lease-1", generation=None, project=PROJECT):
        return self(LeaseReleased(SITE, VOLUME, project, commit, lease_id, generation, when))

    def pin(self, commit, when, pinned=True, generation=None, project=PROJECT):
        return self(PinChanged(SITE, VOLUME, project, commit, pinned, generation, when))

    def evict(self, commit, when, by="alice", project=PROJECT, volume=VOLUME):
        return self(EvictRequested(SITE, volume, project, commit, by, when))

    def tick(self, when):
        return self(Tick(SITE, when))

    def withdraw(self, when, reason=WITHDRAWN, volume=VOLUME):
        return self(VolumeWithdrawn(SITE, volume, reason, when))

    def evicted(self, decision: Decision, when, freed=None):
        freed = decision.facts["bytes_fetched"] if freed is None else freed
        return self(CopyEvicted(SITE, decision.volume, decision.project, decision.commit_id, decision.decision_id,
                                freed, when))

    def explain(self, commit, when, volume=VOLUME, project=PROJECT):
        return explain(self.state, volume, project, commit, when, self.settings)

    def copy(self, commit, volume=VOLUME, project=PROJECT):
        return self.state.find(volume, project, commit)

    def commits(self, volume=VOLUME) -> set[str]:
        return {copy.commit_id for copy in self.state.volumes[volume].copies.values()}


def decided(outcomes) -> list[str]:
    return [o.commit_id for o in outcomes if isinstance(o, Decision)]


# --- idle TTL ------------------------------------------------------------------------------


def test_ready_copy_idle_longer_than_default_ttl_is_evicted():
    site = Site()
    site.ready("c1")

    assert site.tick(at(DAY)) == []  # idle exactly one day: not longer than the TTL
    [decision] = site.tick(at(DAY + SECOND))

    assert (decision.commit_id, decision.reason, decision.dry_run) == ("c1", "ttl-expired", False)
    assert (decision.dataset_id, decision.project, decision.generation) == ("ds-1", "team", 0)
    assert "longer than its idle TTL of 1d (evictor default)" in decision.explanation
    assert decision.facts["ttl_source"] == "default"
    assert decision.facts["last_use"] == T0.isoformat()
    assert decision.facts["idle_seconds"] == DAY.total_seconds() + 1


def test_read_restarts_the_idle_time():
    site = Site()
    site.ready("c1")
    site.read("c1", at(12 * HOUR))

    assert site.tick(at(DAY + SECOND)) == []
    assert decided(site.tick(at(DAY + 12 * HOUR + SECOND))) == ["c1"]


def test_leased_copy_survives_ttl_expiry():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(HOUR), until=at(3 * DAY))

    assert site.tick(at(2 * DAY)) == []
    verdict = site.explain("c1", at(2 * DAY))["verdict"]
    assert verdict.startswith("kept: a job holds a lease on it (job-7 until")


def test_released_lease_counts_as_use_until_its_release():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(HOUR), until=at(5 * DAY))
    site.release("c1", at(2 * DAY))

    assert site.tick(at(3 * DAY)) == []  # idle since the release: exactly the TTL
    assert decided(site.tick(at(3 * DAY + SECOND))) == ["c1"]


def test_unrenewed_lease_stops_protecting_at_its_expiry():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(HOUR), until=at(10 * HOUR))  # the job crashed: never renewed, never released

    assert site.tick(at(DAY + 10 * HOUR)) == []
    assert decided(site.tick(at(DAY + 10 * HOUR + SECOND))) == ["c1"]


def test_renewal_extends_protection():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(HOUR), until=at(2 * HOUR))
    site(LeaseRenewed(SITE, VOLUME, PROJECT, "c1", "lease-1", at(4 * DAY), 2, at(2 * HOUR - SECOND)))

    assert site.tick(at(3 * DAY)) == []
    assert decided(site.tick(at(5 * DAY + SECOND))) == ["c1"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, (86400, "default")),
        ({"volume": 600}, (600, "volume")),
        ({"volume": 600, "dataset": 1200}, (1200, "dataset")),
        ({"volume": 600, "dataset": 1200, "commit": 60}, (60, "commit")),
        ({"commit": 60}, (60, "commit")),
    ],
)
def test_ttl_resolves_commit_then_dataset_then_volume_then_default(overrides, expected):
    site = Site()
    site.report(ttl=overrides.get("volume"))
    site.ready("c1", at(SECOND))
    if "dataset" in overrides:
        site(TtlChanged(SITE, "dataset", "ds-1", overrides["dataset"], at(SECOND)))
    if "commit" in overrides:
        site(TtlChanged(SITE, "commit", "c1", overrides["commit"], at(SECOND)))
    ttl, _ = expected

    assert (site.explain("c1", at(HOUR))["ttl_seconds"], site.explain("c1", at(HOUR))["ttl_source"]) == expected
    assert site.tick(at(SECOND + ttl * SECOND)) == []
    [decision] = site.tick(at(2 * SECOND + ttl * SECOND))
    assert decision.facts["ttl_source"] == expected[1]


def test_cleared_override_falls_back_and_an_older_override_replayed_stays_cleared():
    site = Site()
    site.ready("c1")
    site(TtlChanged(SITE, "commit", "c1", 60, at(SECOND)))
    site(TtlChanged(SITE, "dataset", "ds-1", 120, at(SECOND)))
    site(TtlChanged(SITE, "commit", "c1", None, at(2 * SECOND)))
    site(TtlChanged(SITE, "commit", "c1", 60, at(SECOND)))  # redelivered, older than the clearing

    assert site.explain("c1", at(HOUR))["ttl_source"] == "dataset"


# --- pins, manual requests ----------------------------------------------------------------------------------


def test_pinned_copy_is_never_evicted_until_unpinned():
    site = Site()
    site.report(capacity=1000, used=0)
    site.ready("c1", at(SECOND), fetched=950)
    site.pin("c1", at(2 * SECOND), generation=1)

    [nothing] = site.tick(at(10 * DAY))
    assert isinstance(nothing, NothingEligible)
    assert "1 pinned" in nothing.explanation
    site.pin("c1", at(10 * DAY + SECOND), pinned=False, generation=2)
    [decision] = site.tick(at(10 * DAY + 2 * SECOND))
    assert decision.reason == "ttl-expired" and decision.generation == 2


def test_older_pin_change_delivered_late_is_ignored():
    site = Site()
    site.ready("c1")
    site.pin("c1", at(2 * SECOND), pinned=False, generation=2)
    site.pin("c1", at(SECOND), pinned=True, generation=1)

    assert site.explain("c1", at(HOUR))["pinned"] is False


def test_manual_eviction_of_leased_copy_is_declined_with_explanation():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(SECOND), until=at(HOUR))

    [declined] = site.evict("c1", at(2 * SECOND))
    assert isinstance(declined, EvictionDeclined)
    assert declined.requested_by == "alice"
    assert "requested by alice refused: a job holds a lease on it (job-7 until 2025-03-01T01:00:00+00:00)" \
        in declined.explanation

    site.release("c1", at(3 * SECOND))
    [decision] = site.evict("c1", at(4 * SECOND))
    assert (decision.reason, decision.commit_id) == ("manual", "c1")
    assert decision.explanation.startswith("requested by alice")


def test_manual_eviction_of_pinned_or_unknown_copy_is_declined():
    site = Site()
    site.ready("c1")
    site.pin("c1", at(SECOND))

    [pinned] = site.evict("c1", at(2 * SECOND), by="bob")
    [unknown] = site.evict("c9", at(2 * SECOND), by="bob")
    assert "an operator pinned it" in pinned.explanation
    assert unknown.explanation == ("manual eviction of project team's copy of commit c9 on volume fast requested by "
                                   "bob refused: no such copy is known on that volume of site dgx")
    assert "c9" not in site.commits()


def test_manual_eviction_of_a_copy_already_going_is_declined_once_per_request():
    site = Site()
    site.ready("c1")
    [decision] = site.tick(at(DAY + SECOND))
    request = EvictRequested(SITE, VOLUME, PROJECT, "c1", "carol", at(DAY + 2 * SECOND))

    [declined] = site(request)
    assert f"decision {decision.decision_id} (ttl-expired) is waiting for the cacher" in declined.explanation
    assert site(request) == []


# --- copies are per project ------------------------------------------------------------------------------


OTHER = "rival"


def test_a_lease_pin_or_read_of_one_projects_copy_leaves_another_projects_copy_of_the_commit_unprotected():
    site = Site()
    site.ready("c1")
    site.ready("c1", project=OTHER, dataset="ds-9")
    site.lease("c1", at(HOUR), until=at(3 * DAY), project=OTHER)
    site.pin("c1", at(HOUR), project=OTHER)
    site.read("c1", at(2 * HOUR), project=OTHER)

    [decision] = site.tick(at(DAY + SECOND))
    assert (decision.project, decision.commit_id, decision.dataset_id) == (PROJECT, "c1", "ds-1")
    assert site.explain("c1", at(DAY + SECOND))["live_leases"] == []
    assert site.explain("c1", at(DAY + SECOND), project=OTHER)["verdict"] == "kept: an operator pinned it"


def test_manual_eviction_by_one_project_reaches_only_its_own_copy():
    site = Site()
    site.ready("c1")

    [unknown] = site.evict("c1", at(SECOND), by="mallory", project=OTHER)
    assert isinstance(unknown, EvictionDeclined) and unknown.project == OTHER
    assert "no such copy is known" in unknown.explanation
    site.ready("c1", at(2 * SECOND), project=OTHER, dataset="ds-9")
    [decision] = site.evict("c1", at(3 * SECOND), by="mallory", project=OTHER)
    assert (decision.project, decision.reason) == (OTHER, "manual")
    assert site.explain("c1", at(4 * SECOND))["state"] == "ready"
    assert site.explain("c1", at(4 * SECOND), project=OTHER)["state"] == "evicting-pending"


def test_eviction_and_refusal_facts_settle_only_the_named_projects_copy():
    site = Site()
    site.ready("c1")
    site.ready("c1", project=OTHER, dataset="ds-9")
    rivals, teams = sorted(site.tick(at(DAY + SECOND)), key=lambda d: d.project)
    assert (rivals.project, teams.project) == (OTHER, PROJECT)
    assert rivals.decision_id != teams.decision_id  # the cacher tells them apart by id too

    # A refusal naming the rival project but the team's decision settles nothing.
    site(EvictionRefused(SITE, VOLUME, OTHER, "c1", teams.decision_id, "leased", at(DAY + 2 * SECOND)))
    site.evicted(rivals, at(DAY + 2 * SECOND))
    assert site.explain("c1", at(DAY + 3 * SECOND), project=OTHER)["state"] == "evicted"
    assert site.explain("c1", at(DAY + 3 * SECOND))["state"] == "evicting-pending"


def test_a_commit_ttl_applies_to_every_projects_copy_and_a_dataset_ttl_to_its_datasets_copies():
    site = Site()
    site.ready("c1")
    site.ready("c1", project=OTHER, dataset="ds-9")
    site.ready("c2")
    site.ready("c2", project=OTHER, dataset="ds-9")
    site(TtlChanged(SITE, "commit", "c1", 60, at(SECOND)))
    site(TtlChanged(SITE, "dataset", "ds-9", 120, at(SECOND)))

    assert [(site.explain(c, at(HOUR), project=p)["ttl_seconds"], site.explain(c, at(HOUR), project=p)["ttl_source"])
            for c in ("c1", "c2") for p in (PROJECT, OTHER)] == [
        (60, "commit"), (60, "commit"), (86400, "default"), (120, "dataset")]
    assert sorted((d.commit_id, d.project) for d in site.tick(at(121 * SECOND))) == [
        ("c1", OTHER), ("c1", PROJECT), ("c2", OTHER)]


def test_explain_of_a_project_without_a_copy_says_nothing_about_another_projects_copy():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(SECOND), until=at(HOUR), holder="secret-job")

    answer = site.explain("c1", at(MINUTE), project=OTHER)
    assert answer["state"] == "unknown" and answer["project"] == OTHER
    assert "secret-job" not in json.dumps(answer) and "ds-1" not in json.dumps(answer)


def test_state_saved_before_copies_were_per_project_is_re_keyed_when_loaded():
    site = Site()
    site.ready("c1")
    site.lease("c1", at(SECOND), until=at(HOUR))
    saved = site.state.to_dict()
    # The layout of before: copies keyed by commit id, and a copy whose project was never learnt.
    copies = saved["volumes"][VOLUME]["copies"]
    unseen = {**copies["team/c1"], "commit_id": "c2", "project": None, "status": "unseen", "dataset_id": None}
    saved["volumes"][VOLUME]["copies"] = {"c1": copies["team/c1"], "c2": unseen}

    restored = SiteState.from_dict(json.loads(json.dumps(saved)))
    assert restored == site.state
    assert list(restored.volumes[VOLUME].copies) == ["team/c1"]


# --- TTL limits ----------------------------------------------------------------------------------------------


def test_ttls_above_ten_years_are_refused_where_they_are_set():
    assert MAX_TTL_SECONDS == 10 * 365 * 86400
    TtlChanged(SITE, "dataset", "ds-1", MAX_TTL_SECONDS, T0)
    with pytest.raises(ValueError, match=f"must be 1 to {MAX_TTL_SECONDS} seconds or None"):
        TtlChanged(SITE, "dataset", "ds-1", MAX_TTL_SECONDS + 1, T0)
    with pytest.raises(ValueError, match=f"default_ttl_seconds must be 1 to {MAX_TTL_SECONDS} seconds"):
        PolicySettings(default_ttl_seconds=MAX_TTL_SECONDS + 1)


def test_the_policy_and_the_service_default_to_the_installations_eviction_defaults():
    # One set of defaults for every service that validates or shows a volume's policy.
    expected = (eviction.DEFAULT_TTL_SECONDS, eviction.DEFAULT_HIGH_WATERMARK, eviction.DEFAULT_LOW_WATERMARK)
    for settings in (PolicySettings(), EvictorSection().policy()):
        assert (settings.default_ttl_seconds, settings.high_watermark, settings.low_watermark) == expected
    assert MAX_TTL_SECONDS == eviction.MAX_TTL_SECONDS
    assert EvictorSection(default_ttl_seconds=eviction.MAX_TTL_SECONDS).default_ttl_seconds == MAX_TTL_SECONDS
    with pytest.raises(ValidationError, match="less than or equal to 315360000"):
        EvictorSection(default_ttl_seconds=eviction.MAX_TTL_SECONDS + 1)


def test_a_volume_ttl_past_the_maximum_counts_as_the_maximum_instead_of_overflowing():
    site = Site()
    site.report(ttl=10**15)  # the cacher accepts any positive volume TTL
    site.ready("c1", at(SECOND))

    assert site.tick(at(300 * DAY)) == []
    answer = site.explain("c1", at(300 * DAY))
    assert (answer["ttl_seconds"], answer["ttl_source"]) == (MAX_TTL_SECONDS, "volume")


# --- capacity ------------------------------------------------------------------------------------------------


def filled(settings: PolicySettings | None = None) -> Site:
    """1000-byte volume with a (oldest), b, c at 300 bytes each and d at 50: 950 used, above 90%."""
    site = Site(settings)
    site.report(capacity=1000, used=0)
    for i, commit in enumerate(["a", "b", "c"]):
        site.ready(commit, at((i + 1) * SECOND), fetched=300)
    site.ready("d", at(4 * SECOND), fetched=50)
    return site


def test_above_high_watermark_evicts_least_recently_used_until_below_low():
    site = filled()

    [decision] = site.tick(at(MINUTE))
    assert (decision.commit_id, decision.reason) == ("a", "capacity")  # 950 - 300 = 650 < 750
    assert "least recently used" in decision.explanation
    assert decision.facts["volume"]["used_bytes"] == 950
    assert site.state.volumes[VOLUME].reclaiming

    site.evicted(decision, at(MINUTE + SECOND))
    assert site.tick(at(2 * MINUTE)) == []
    assert not site.state.volumes[VOLUME].reclaiming


def test_reclaiming_continues_until_usage_is_really_below_low_watermark():
    site = filled()
    [first] = site.tick(at(60 * SECOND))
    site.evicted(first, at(61 * SECOND), freed=100)  # shared content stayed: 850 used, between the marks

    [second] = site.tick(at(120 * SECOND))
    assert second.commit_id == "b"
    site.evicted(second, at(121 * SECOND), freed=300)  # 550 used
    assert site.tick(at(180 * SECOND)) == []
    assert not site.state.volumes[VOLUME].reclaiming


def test_volume_between_watermarks_is_left_alone():
    site = Site()
    site.report(capacity=1000, used=850)
    site.ready("a", at(SECOND), fetched=10)

    assert site.tick(at(60 * SECOND)) == []
    assert not site.state.volumes[VOLUME].reclaiming


def test_volume_watermarks_override_the_defaults():
    site = Site()
    site.report(capacity=1000, used=0, high=0.5, low=0.2)
    site.ready("a", at(SECOND), fetched=300)
    site.ready("b", at(2 * SECOND), fetched=300)

    assert decided(site.tick(at(60 * SECOND))) == ["a", "b"]  # 600 > 500, down to < 200


def test_space_needed_evicts_least_recently_used_until_the_request_fits():
    site = Site()
    site.report(capacity=1000, used=500)
    site.ready("a", at(SECOND), fetched=200)
    site.ready("b", at(2 * SECOND), fetched=200)  # 900 used, 100 free

    [decision] = site(SpaceNeeded(SITE, VOLUME, 250, "fill-9", at(3 * SECOND)))
    assert (decision.commit_id, decision.reason) == ("a", "capacity")
    assert "needs 250 B free" in decision.explanation
    assert site(SpaceNeeded(SITE, VOLUME, 250, "fill-9", at(3 * SECOND))) == []  # redelivered request
    assert site(SpaceNeeded(SITE, VOLUME, 250, "fill-10", at(4 * SECOND))) == []  # the pending one covers it


def test_nothing_eligible_is_reported_once_per_tick_not_per_copy():
    site = Site()
    site.report(capacity=1000, used=0)
    site.ready("a", at(SECOND), fetched=400)
    site.ready("b", at(2 * SECOND), fetched=400)
    site.ready("c", at(3 * SECOND), fetched=150)
    site.lease("a", at(4 * SECOND), until=at(DAY))
    site.pin("b", at(4 * SECOND))

    outcomes = site.tick(at(60 * SECOND))
    assert decided(outcomes) == ["c"]  # 950 - 150 = 800: still not below 750
    [nothing] = [o for o in outcomes if isinstance(o, NothingEligible)]
    assert nothing.bytes_wanted == 51
    assert "1 leased" in nothing.explanation and "1 pinned" in nothing.explanation
    assert "1 already being evicted" in nothing.explanation

    [again] = site.tick(at(120 * SECOND))
    assert isinstance(again, NothingEligible)
    [request] = site(SpaceNeeded(SITE, VOLUME, 500, "fill-1", at(121 * SECOND)))
    assert isinstance(request, NothingEligible) and request.bytes_wanted == 500 - 50 - 150


# --- withdrawn volumes ----------------------------------------------------------------------------------------


def test_no_copy_on_a_withdrawn_volume_is_decided_until_the_volume_is_reported_again():
    site = filled()  # 950 of 1000 used: above the high watermark
    assert site.withdraw(at(5 * SECOND)) == []
    volume = site.state.volumes[VOLUME]

    assert site.tick(at(2 * DAY)) == []  # idle past the TTL and over the watermark: nothing is decided
    assert not volume.reclaiming
    [declined] = site.evict("a", at(2 * DAY + SECOND))
    assert isinstance(declined, EvictionDeclined)
    assert declined.explanation.endswith(f"refused: its volume is withdrawn: {WITHDRAWN}")
    [blocked] = site(SpaceNeeded(SITE, VOLUME, 500, "fill-1", at(2 * DAY + 2 * SECOND)))
    assert isinstance(blocked, NothingEligible) and f"the volume is withdrawn: {WITHDRAWN}" in blocked.explanation
    answer = site.explain("a", at(2 * DAY + 3 * SECOND))
    assert answer["verdict"] == f"kept: its volume is withdrawn: {WITHDRAWN}"

    [reclaimed] = site.report(at(2 * DAY + 4 * SECOND), capacity=1000, used=950)  # usable again
    assert volume.withdrawn is None and volume.reclaiming
    assert (reclaimed.commit_id, reclaimed.reason) == ("a", "capacity")
    assert decided(site.tick(at(2 * DAY + 5 * SECOND))) == ["b", "c", "d"]  # idle past their TTL


def test_the_newest_of_a_volumes_reports_and_withdrawals_says_whether_it_is_usable():
    site = Site()
    site.report(at(10 * SECOND))
    site.ready("a", at(11 * SECOND))
    volume = site.state.volumes[VOLUME]

    site.withdraw(at(5 * SECOND))  # older than the report: the volume was usable after it
    assert volume.withdrawn is None
    site.withdraw(at(20 * SECOND), reason="first")
    site.report(at(15 * SECOND))  # a report older than the withdrawal, late: it stays withdrawn
    site.withdraw(at(18 * SECOND), reason="older")
    assert (volume.withdrawn, volume.withdrawn_at) == ("first", at(20 * SECOND))
    assert site.tick(at(2 * DAY)) == []

    site.report(at(2 * DAY + SECOND))
    assert volume.withdrawn is None
    assert decided(site.tick(at(2 * DAY + 2 * SECOND))) == ["a"]


# --- pacing: pending, lost and refused decisions ----------------------------------------------------------


def test_pending_decision_is_not_repeated_until_redecide_timeout():
    site = Site()
    site.ready("c1")
    [first] = site.tick(at(DAY + SECOND))

    assert site.tick(at(DAY + 299 * SECOND)) == []
    assert site.explain("c1", at(DAY + 299 * SECOND))["state"] == "evicting-pending"
    [second] = site.tick(at(DAY + 301 * SECOND))  # the command was lost: decide again
    assert second.commit_id == "c1" and second.decision_id != first.decision_id


def test_refused_decision_waits_before_deciding_again():
    site = Site()
    site.ready("c1")
    [decision] = site.tick(at(DAY + SECOND))
    refusal = EvictionRefused(SITE, VOLUME, PROJECT, "c1", decision.decision_id, "generation: changed",
                              at(DAY + 2 * SECOND))
    site(refusal)
    snapshot = site.state.to_dict()
    assert site(refusal) == [] and site.state.to_dict() == snapshot

    last = site.explain("c1", at(DAY + 3 * SECOND))["last_decision"]
    assert (last["outcome"], last["answer"]) == ("refused", "generation: changed")
    assert last["may_redecide_at"] == at(DAY + 301 * SECOND).isoformat()  # the policy's clock: the last tick
    assert site.tick(at(DAY + 60 * SECOND)) == []
    assert decided(site.tick(at(DAY + 302 * SECOND))) == ["c1"]


def test_late_refusal_of_a_superseded_decision_is_ignored():
    site = Site()
    site.ready("c1")
    [first] = site.tick(at(DAY + SECOND))
    [second] = site.tick(at(DAY + 302 * SECOND))
    site(EvictionRefused(SITE, VOLUME, PROJECT, "c1", first.decision_id, "not-ready", at(DAY + 303 * SECOND)))

    assert site.explain("c1", at(DAY + 304 * SECOND))["last_decision"]["decision_id"] == second.decision_id
    assert site.explain("c1", at(DAY + 304 * SECOND))["state"] == "evicting-pending"


def test_decision_id_is_the_same_for_the_same_facts_and_names_the_attempt():
    one, two = Site(), Site()
    for site in (one, two):
        site.ready("c1")
    [a] = one.tick(at(DAY + SECOND))
    [b] = two.tick(at(DAY + SECOND))

    assert a == b
    copy = one.copy("c1")
    assert a.decision_id == decision_id(SITE, VOLUME, copy, 1, "ttl-expired")
    assert a.decision_id != decision_id(SITE, VOLUME, copy, 2, "ttl-expired")


# --- dry run -------------------------------------------------------------------------------------------------


def test_dry_run_decides_once_per_unchanged_copy_and_keeps_it():
    site = Site(PolicySettings(dry_run=True))
    site.ready("c1")

    [decision] = site.tick(at(DAY + SECOND))
    assert decision.dry_run and decision.reason == "ttl-expired"
    assert site.tick(at(2 * DAY)) == []  # same copy, nothing changed: not repeated
    explained = site.explain("c1", at(2 * DAY))
    assert explained["state"] == "ready"
    assert explained["verdict"].startswith("kept (dry run)")

    site.read("c1", at(2 * DAY))  # a read changes what the decision rested on
    assert site.tick(at(3 * DAY)) == []
    [again] = site.tick(at(3 * DAY + SECOND))
    assert again.dry_run and again.decision_id != decision.decision_id


def test_dry_run_capacity_counts_its_own_decisions_as_done():
    site = filled(PolicySettings(dry_run=True))

    [decision] = site.tick(at(60 * SECOND))
    assert decision.dry_run and decision.commit_id == "a"
    assert site.tick(at(120 * SECOND)) == []
    assert site.copy("a").status == "ready"


# --- explain -------------------------------------------------------------------------------------------------


def test_explain_says_why_a_copy_is_kept_and_when_its_ttl_runs_out():
    site = Site()
    site.report(ttl=7200)
    site.ready("c1", at(SECOND))
    site.lease("c1", at(2 * SECOND), until=at(HOUR))

    answer = site.explain("c1", at(30 * 60 * SECOND))
    assert answer["state"] == "ready"
    assert answer["live_leases"] == [{"lease_id": "lease-1", "holder": "job-7", "expires_at": at(HOUR).isoformat()}]
    assert (answer["ttl_seconds"], answer["ttl_source"]) == (7200, "volume")
    assert answer["last_use"] == at(HOUR).isoformat()
    assert answer["ttl_expires_at"] == at(3 * HOUR).isoformat()
    assert answer["ttl_expires_in_seconds"] == 2.5 * 3600
    assert answer["volume_state"]["capacity_bytes"] == 1000
    assert answer["verdict"].startswith("kept: a job holds a lease")
    json.dumps(answer)

    assert site.explain("c1", at(2 * HOUR))["verdict"].startswith("kept: idle for 1h of its TTL 2h (volume)")
    assert site.explain("c1", at(4 * HOUR))["verdict"].startswith("due: idle for 3h")


def test_explain_tells_why_a_copy_was_evicted():
    site = Site()
    site.ready("c1")
    [decision] = site.tick(at(DAY + SECOND))
    site.evicted(decision, at(DAY + 2 * SECOND))

    answer = site.explain("c1", at(DAY + 3 * SECOND))
    assert answer["state"] == "evicted"
    assert answer["evicted_by"] == decision.decision_id and answer["bytes_freed"] == 100
    assert answer["last_decision"]["outcome"] == "evicted"
    assert answer["last_decision"]["explanation"] == decision.explanation
    assert decision.explanation in answer["verdict"]
    assert site.explain("c404", at(DAY))["state"] == "unknown"


# --- order, repeats and unknown copies -----------------------------------------------------------------------


def test_lease_before_ready_is_remembered_and_protects_the_copy():
    site = Site()
    site.lease("c1", at(2 * SECOND), until=at(3 * DAY))
    assert site.explain("c1", at(3 * SECOND))["state"] == "not-ready"
    site.ready("c1", at(SECOND))

    assert site.tick(at(2 * DAY)) == []
    assert decided(site.tick(at(4 * DAY + SECOND))) == ["c1"]


def test_release_seen_before_its_lease_keeps_the_lease_released():
    site = Site()
    site.ready("c1")
    site.release("c1", at(2 * HOUR))
    site.lease("c1", at(HOUR), until=at(3 * DAY))  # the acquisition, delivered late

    assert site.explain("c1", at(3 * HOUR))["live_leases"] == []
    assert site.explain("c1", at(3 * HOUR))["last_use"] == at(2 * HOUR).isoformat()


def test_lease_on_a_copy_that_never_becomes_ready_is_forgotten_after_it_ends():
    site = Site(PolicySettings(forget_after_seconds=86400))
    site.lease("ghost", at(SECOND), until=at(HOUR))

    site.tick(at(DAY))
    assert "ghost" in site.commits()
    site.tick(at(DAY + HOUR + SECOND))
    assert "ghost" not in site.commits()


def test_read_without_volume_credits_the_ready_copies_of_the_commit():
    site = Site()
    site.ready("c1", volume="fast")
    site.ready("c1", volume="slow")
    site(CopyRead(SITE, None, PROJECT, "c1", at(HOUR)))
    site(CopyRead(SITE, None, PROJECT, "c-unknown", at(HOUR)))

    assert site.tick(at(DAY + SECOND)) == []
    assert sorted(d.volume for d in site.tick(at(DAY + HOUR + SECOND))) == ["fast", "slow"]
    assert "c-unknown" not in site.commits("fast")


def test_eviction_of_an_earlier_incarnation_replayed_late_is_ignored():
    site = Site()
    site.ready("c1", at(SECOND))
    site(CopyEvicted(SITE, VOLUME, PROJECT, "c1", "d-1", 100, at(2 * SECOND)))
    site.ready("c1", at(3 * SECOND))
    site(CopyEvicted(SITE, VOLUME, PROJECT, "c1", "d-1", 100, at(2 * SECOND)))  # redelivered
    site.ready("c1", at(SECOND))  # redelivered

    copy = site.copy("c1")
    assert (copy.status, copy.ready_at) == ("ready", at(3 * SECOND))


def test_ready_repeated_for_another_request_is_not_counted_twice():
    site = Site()
    site.report(capacity=1000, used=0)
    site.ready("c1", at(SECOND), fetched=300)
    site.ready("c1", at(MINUTE), fetched=300)  # answer to a request that joined later

    assert site.state.volumes[VOLUME].used_bytes() == 300
    assert site.copy("c1").ready_at == at(SECOND)
    assert site.explain("c1", at(MINUTE))["idle_seconds"] == 59


def test_usage_is_the_last_report_plus_fills_minus_evictions_after_it():
    site = Site()
    site.report(T0, capacity=1000, used=100)
    site.ready("a", at(SECOND), fetched=200)
    site(CopyEvicted(SITE, VOLUME, PROJECT, "z", "d-z", 50, at(2 * SECOND)))
    assert site.state.volumes[VOLUME].used_bytes() == 250

    site.report(at(3 * SECOND), used=260)
    site.ready("b", at(3 * SECOND), fetched=40)  # at the report's time: already in it
    site.report(at(2 * SECOND), used=999)  # older report delivered late
    assert site.state.volumes[VOLUME].used_bytes() == 260


def test_fact_for_another_site_is_refused():
    with pytest.raises(ValueError, match="site 'elsewhere' was applied to the state of site 'dgx'"):
        apply(SiteState(SITE), Tick("elsewhere", T0))


def test_naive_datetime_is_refused_with_the_field_named():
    with pytest.raises(ValueError, match=r"Tick.now is 2025-03-01T00:00:00 without a timezone"):
        Tick(SITE, datetime(2025, 3, 1))


def test_settings_refuse_inverted_watermarks():
    with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
        PolicySettings(high_watermark=0.5, low_watermark=0.8)


def facts_of_every_kind() -> list:
    return [
        VolumeReported(SITE, VOLUME, 1000, 100, None, None, None, T0),
        CopyReady(SITE, VOLUME, PROJECT, "a", "ds-1", 600, 300, 0, at(SECOND)),
        CopyReady(SITE, VOLUME, PROJECT, "b", "ds-1", 800, 600, 0, at(2 * SECOND)),
        LeaseAcquired(SITE, VOLUME, PROJECT, "a", "l-1", at(HOUR), 1, at(3 * SECOND), holder="job"),
        LeaseRenewed(SITE, VOLUME, PROJECT, "a", "l-1", at(2 * HOUR), 2, at(4 * SECOND)),
        CopyRead(SITE, None, PROJECT, "a", at(5 * SECOND)),
        PinChanged(SITE, VOLUME, PROJECT, "b", True, 1, at(6 * SECOND)),
        TtlChanged(SITE, "dataset", "ds-1", 60, at(7 * SECOND)),
        Tick(SITE, at(10 * SECOND)),
        SpaceNeeded(SITE, VOLUME, 400, "fill-1", at(11 * SECOND)),
        EvictRequested(SITE, VOLUME, PROJECT, "a", "alice", at(12 * SECOND)),
        LeaseReleased(SITE, VOLUME, PROJECT, "a", "l-1", 3, at(13 * SECOND)),
        PinChanged(SITE, VOLUME, PROJECT, "b", False, 2, at(14 * SECOND)),
        Tick(SITE, at(DAY)),
        EvictionRefused(SITE, VOLUME, PROJECT, "b", "unknown-decision", "pinned", at(DAY + SECOND)),
        CopyEvicted(SITE, VOLUME, PROJECT, "a", "d-a", 300, at(DAY + 2 * SECOND)),
        Tick(SITE, at(2 * DAY)),
        VolumeWithdrawn(SITE, VOLUME, WITHDRAWN, at(2 * DAY + SECOND)),
        Tick(SITE, at(3 * DAY)),
        VolumeReported(SITE, VOLUME, 1000, 900, None, None, None, at(3 * DAY + SECOND)),
        Tick(SITE, at(4 * DAY)),
    ]


def test_every_fact_applied_twice_changes_nothing_the_second_time():
    once, twice = Site(), Site()
    for fact in facts_of_every_kind():
        first = once(fact)
        assert twice(fact) == first
        snapshot = twice.state.to_dict()
        assert twice(fact) == []
        assert twice.state.to_dict() == snapshot
    assert twice.state == once.state


def test_state_round_trips_exactly_through_json_and_decides_the_same_afterwards():
    site = Site()
    facts = facts_of_every_kind()
    for fact in facts[:9]:
        site(fact)
    site.copy("a").leases["l-2"] = replace(site.copy("a").leases["l-1"], released_at=at(9 * SECOND))

    restored = SiteState.from_dict(json.loads(json.dumps(site.state.to_dict())))
    assert restored == site.state
    assert restored.to_dict() == site.state.to_dict()
    copy = Site()
    copy.state = restored
    for fact in facts[9:]:
        assert copy(fact) == site(fact)
    assert copy.state == site.state


def test_old_evicted_copies_are_forgotten_but_pinned_ones_are_kept():
    site = Site(PolicySettings(forget_after_seconds=7 * 86400))
    for commit in ("gone", "pinned"):
        site.ready(commit)
        site(CopyEvicted(SITE, VOLUME, PROJECT, commit, "d", 100, at(SECOND)))
    site.pin("pinned", at(2 * SECOND))

    site.tick(at(7 * DAY))
    assert site.commits() == {"gone", "pinned"}
    site.tick(at(8 * DAY))
    assert site.commits() == {"pinned"}
