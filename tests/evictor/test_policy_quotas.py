"""Room under a project's quota (ADR 0018): only the requesting project's copies are decided, least
recently used first, never a leased or pinned one, and a copy's size counts as what it frees."""

from __future__ import annotations

from datetime import UTC, datetime

from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import CacheSpaceRequested
from lakecache.evictor.policy import Decision, NothingEligible, SpaceNeeded
from lakecache.evictor.translate import fact_of
from tests.evictor.test_policy import PROJECT, SECOND, SITE, VOLUME, Site, at, decided

OTHER = "lab"


def quota_room(bytes_needed: int, when, request_id: str = "fill-9/quota", project: str = PROJECT) -> SpaceNeeded:
    return SpaceNeeded(SITE, VOLUME, bytes_needed, request_id, when, project=project)


def busy_site() -> Site:
    """Both projects' copies, the other project's the least recently used (sizes are twice the fetched bytes)."""
    site = Site()
    site.report(capacity=10_000, used=0)
    site.ready("old-lab", at(SECOND), fetched=300, project=OTHER)
    site.ready("a", at(2 * SECOND), fetched=100)
    site.ready("b", at(3 * SECOND), fetched=100)
    site.ready("c", at(4 * SECOND), fetched=100)
    return site


def test_a_quota_request_decides_only_the_projects_least_recently_used_copies():
    site = busy_site()
    outcomes = site(quota_room(300, at(5 * SECOND)))
    assert decided(outcomes) == ["a", "b"]  # 200 + 200 covers 300; old-lab is older but another project's
    assert all(o.project == PROJECT and o.reason == "quota" for o in outcomes if isinstance(o, Decision))
    assert "project team's fill" in outcomes[0].explanation and "copy of project team" in outcomes[0].explanation
    assert site(quota_room(300, at(6 * SECOND))) == []  # redelivered


def test_leased_and_pinned_copies_are_never_decided_for_a_quota_and_the_shortfall_is_reported():
    site = busy_site()
    site.lease("a", at(5 * SECOND), until=at(60 * SECOND))
    site.pin("b", at(5 * SECOND))
    outcomes = site(quota_room(500, at(6 * SECOND)))
    assert decided(outcomes) == ["c"]
    [blocked] = [o for o in outcomes if isinstance(o, NothingEligible)]
    assert blocked.bytes_wanted == 300
    assert "1 leased" in blocked.explanation and "1 pinned" in blocked.explanation
    assert site.copy("old-lab", project=OTHER).decision is None


def test_a_quota_request_and_a_capacity_request_of_one_fill_are_answered_each():
    site = busy_site()
    site.report(at(5 * SECOND), capacity=1000, used=900)
    capacity = site(SpaceNeeded(SITE, VOLUME, 150, "fill-9", at(6 * SECOND)))
    assert decided(capacity) == ["old-lab"]
    assert decided(site(quota_room(100, at(7 * SECOND)))) == ["a"]


def test_the_cachers_quota_request_becomes_a_request_of_its_project():
    data = CacheSpaceRequested(site=SITE, volume=VOLUME, bytes_needed=300, fill_id="fill-9", commit_id="3" * 64,
                               project=PROJECT, quota_bytes=1000)
    fact = fact_of(Event(data=data, source="/t", time=datetime(2025, 3, 1, tzinfo=UTC)))
    assert (fact.project, fact.request_id, fact.bytes_needed) == (PROJECT, "fill-9/quota", 300)
    plain = fact_of(Event(data=data.model_copy(update={"quota_bytes": None}), source="/t",
                          time=datetime(2025, 3, 1, tzinfo=UTC)))
    assert (plain.project, plain.request_id) == (None, "fill-9")
