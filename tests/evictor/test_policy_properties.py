"""Properties of the eviction policy over random schedules, with a simulated cacher closing the loop.

The simulated cacher is the ground truth: it holds copies, leases, pins and usage, emits the
facts the real one would (strictly increasing times, as one clock stamps them), and executes
decisions with the real cacher's compare-and-swap (refusing a pinned, leased or changed copy,
freeing ``bytes_fetched``). It may withdraw a volume (as the real one does with a volume it
refuses at start) and then neither fills it nor reports it until a report makes it usable again.
The properties are checked against its truth, not the policy's view.
"""

from __future__ import annotations

import copy as copying
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lakecache.evictor.policy import (
    CopyEvicted,
    CopyRead,
    CopyReady,
    Decision,
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
)

SITE = "lab"
PROJECT = "p"  # one project: tests/evictor/test_policy_projects.py checks how projects' copies stay apart
VOLUMES = ("v1", "v2")
FETCHED = {"c0": 300, "c1": 200, "c2": 350, "c3": 100, "c4": 250}
DATASETS = {"c0": "d0", "c1": "d0", "c2": "d1", "c3": "d1", "c4": "d2"}
TARGETS = {"commit": sorted(FETCHED), "dataset": sorted(set(DATASETS.values()))}
CAPACITY, BASE_USED = 1000, 100
T0 = datetime(2025, 1, 1, tzinfo=UTC)
LIVE = PolicySettings(default_ttl_seconds=600, redecide_after_seconds=300, forget_after_seconds=3600)
DRY = PolicySettings(default_ttl_seconds=600, redecide_after_seconds=300, forget_after_seconds=3600, dry_run=True)
EXAMPLES = settings(max_examples=80, deadline=None)


def copy_of(key: tuple[str, str]) -> tuple[str, str, str]:
    """A (volume, commit) key of the simulation as a fact names the copy: volume, project, commit."""
    return key[0], PROJECT, key[1]


@dataclass
class TrueCopy:
    ready: bool = False
    ready_at: datetime | None = None
    last_read: datetime | None = None
    pinned: bool = False
    generation: int = 0
    touched: int = 0  # facts that change what a decision about it rests on


@dataclass
class TrueLease:
    key: tuple[str, str]
    expires_at: datetime
    released_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.released_at is None and self.expires_at > now

    def end(self) -> datetime:
        return self.expires_at if self.released_at is None else min(self.expires_at, self.released_at)


class World:
    """A site with a simulated cacher and the policy; ``run`` plays a schedule of actions."""

    def __init__(self, policy: PolicySettings = LIVE, *, duplicate: bool = False) -> None:
        self.policy, self.duplicate = policy, duplicate
        self.state = SiteState(SITE)
        self.now = T0
        self.copies: dict[tuple[str, str], TrueCopy] = {}
        self.leases: list[TrueLease] = []
        self.used = dict.fromkeys(VOLUMES, BASE_USED)
        self.volume_ttl: dict[str, int | None] = dict.fromkeys(VOLUMES)
        self.marks: dict[str, tuple[float | None, float | None]] = dict.fromkeys(VOLUMES, (None, None))
        self.withdrawn: dict[str, bool] = dict.fromkeys(VOLUMES, False)
        self.overrides: dict[str, dict[str, int | None]] = {"commit": {}, "dataset": {}}
        self.log: list[tuple[object, list]] = []
        self.lost: dict[tuple[str, str], datetime] = {}  # commands dropped, by copy: when decided
        self.drop_next = False
        self.requests = 0
        self.space_wanted: dict[str, int] = {}
        self.dry_seen: dict[tuple[str, str], int] = {}  # touched count at the last dry-run decision
        for volume in VOLUMES:
            self.report(volume)

    # -- the cacher and the jobs -------------------------------------------------------------------

    def stamp(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def live_leases(self, key: tuple[str, str], now: datetime) -> list[TrueLease]:
        return [lease for lease in self.leases if lease.key == key and lease.live(now)]

    def evictable(self, key: tuple[str, str], now: datetime) -> bool:
        """Whether the policy may decide the copy: ready, unprotected, on a volume in use."""
        copy = self.copies.get(key)
        return bool(copy and copy.ready and not copy.pinned and not self.live_leases(key, now)
                    and not self.withdrawn[key[0]])

    def report(self, volume: str) -> None:
        self.withdrawn[volume] = False  # a report says the volume is usable (again)
        self.emit(VolumeReported(SITE, volume, CAPACITY, self.used[volume], self.volume_ttl[volume],
                                 *self.marks[volume], self.stamp()))

    def withdraw(self, volume: str) -> None:
        self.withdrawn[volume] = True
        self.emit(VolumeWithdrawn(SITE, volume, "it breaks the volume rules", self.stamp()))

    def fill(self, volume: str, commit: str) -> None:
        if self.withdrawn[volume]:
            return  # the cacher never fills a volume it withdrew
        key, size = (volume, commit), FETCHED[commit]
        current = self.copies.setdefault(key, TrueCopy())
        if current.ready:  # answering one more request for a ready copy
            self.emit(CopyReady(SITE, volume, PROJECT, commit, DATASETS[commit], size, size, current.generation,
                                self.stamp()))
            return
        if self.used[volume] + size > CAPACITY:
            self.requests += 1
            need = self.used[volume] + size - CAPACITY
            self.space_wanted[f"r{self.requests}"] = need
            self.check_space(volume, need, self.emit(SpaceNeeded(SITE, volume, need, f"r{self.requests}",
                                                                 self.stamp())))
            if self.used[volume] + size > CAPACITY:
                return  # the fill fails for want of space
        current.ready, current.ready_at = True, self.stamp()
        current.touched += 1
        self.used[volume] += size
        self.emit(CopyReady(SITE, volume, PROJECT, commit, DATASETS[commit], size, size, current.generation,
                            current.ready_at))

    def execute(self, decision: Decision) -> None:
        key = (decision.volume, decision.commit_id)
        if self.drop_next:
            self.drop_next = False
            self.lost[key] = self.state.clock or self.now
            return
        copy = self.copies[key]
        if not self.evictable(key, self.now) or decision.generation not in (None, copy.generation):
            self.emit(EvictionRefused(SITE, *copy_of(key), decision.decision_id, "refused", self.stamp()))
            return
        copy.ready = False
        self.lost.pop(key, None)
        self.used[key[0]] -= FETCHED[key[1]]
        self.emit(CopyEvicted(SITE, *copy_of(key), decision.decision_id, FETCHED[key[1]], self.stamp()))

    def emit(self, fact) -> list:
        outcomes = apply(self.state, fact, self.policy)
        if self.duplicate:
            before = self.state.to_dict()
            repeated = apply(self.state, fact, self.policy)
            # A manual request for a copy never seen is declined each time (nothing is recorded for it).
            unknown = isinstance(fact, EvictRequested) and \
                self.state.find(fact.volume, fact.project, fact.commit_id) is None
            assert repeated == (outcomes if unknown else []), f"a repeated {fact} caused outcomes"
            assert self.state.to_dict() == before, f"a repeated {fact} changed the state"
        self.log.append((fact, outcomes))
        for outcome in outcomes:
            if isinstance(outcome, Decision):
                self.check_decision(outcome)
                if not outcome.dry_run:
                    self.execute(outcome)
        return outcomes

    # -- properties checked as the schedule runs ---------------------------------------------------

    def check_decision(self, decision: Decision) -> None:
        key = (decision.volume, decision.commit_id)
        copy = self.copies.get(key)
        assert copy is not None and copy.ready, f"decided {key}, which is not ready"
        assert not copy.pinned, f"decided pinned copy {key}"
        assert not self.withdrawn[decision.volume], f"decided {key} on withdrawn volume {decision.volume}"
        assert not self.live_leases(key, self.now), f"decided leased copy {key}"
        assert decision.dry_run == self.policy.dry_run
        if decision.reason == "capacity" and not decision.dry_run:
            self.check_needed(decision)
        if decision.dry_run:
            if decision.reason != "manual":  # an operator's request is answered each time it is made
                assert self.dry_seen.get(key) != copy.touched, f"dry-run decision on {key} repeated, nothing changed"
            self.dry_seen[key] = copy.touched

    def watermarks(self, volume: str) -> tuple[float, float]:
        high, low = self.marks[volume]
        return (LIVE.high_watermark, LIVE.low_watermark) if high is None or low is None else (high, low)

    def in_flight(self, volume: str) -> int:
        """Bytes of decisions whose command was lost but which the policy still waits for."""
        now = self.state.clock or self.now
        wait = timedelta(seconds=self.policy.redecide_after_seconds)
        return sum(FETCHED[c] for (v, c), when in self.lost.items() if v == volume and now - when < wait)

    def check_needed(self, decision: Decision) -> None:
        """A capacity decision is only made while the target is not yet met (earlier decisions of
        the same evaluation are executed by now, lost ones still count as on their way)."""
        volume, trigger = decision.volume, decision.facts["trigger"]
        if trigger == "watermark":
            _, low = self.watermarks(volume)
            assert self.used[volume] - self.in_flight(volume) >= low * CAPACITY, f"{decision} was not needed"
        else:
            need = self.space_wanted[trigger.removeprefix("space-request ")]
            assert CAPACITY - self.used[volume] + self.in_flight(volume) < need, f"{decision} was not needed"

    def check_space(self, volume: str, need: int, outcomes: list) -> None:
        if self.policy.dry_run:
            return
        free = CAPACITY - self.used[volume]
        going = sum(FETCHED[c] for (v, c), when in self.lost.items() if v == volume)
        if free + going < need:
            assert any(isinstance(o, NothingEligible) for o in outcomes), f"{need} wanted, {free} free, no answer"
            clock = self.state.clock or self.now
            stuck = [k for k in self.copies if k[0] == volume and self.evictable(k, clock) and k not in self.lost]
            assert not stuck, f"space still short on {volume} but {stuck} could go"

    def ttl(self, volume: str, commit: str) -> int:
        for scope, target in (("commit", commit), ("dataset", DATASETS[commit])):
            if self.overrides[scope].get(target) is not None:
                return self.overrides[scope][target]
        return self.volume_ttl[volume] or self.policy.default_ttl_seconds

    def last_use(self, key: tuple[str, str]) -> datetime:
        copy = self.copies[key]
        ends = [lease.end() for lease in self.leases if lease.key == key]
        return max(t for t in (copy.ready_at, copy.last_read, *ends) if t is not None)

    def overdue(self, now: datetime) -> list[tuple[str, str]]:
        """Ready, unprotected copies idle past their TTL (except those whose command was just lost)."""
        wait = timedelta(seconds=self.policy.redecide_after_seconds)
        return [key for key, copy in self.copies.items()
                if self.evictable(key, now) and now - self.last_use(key) > timedelta(seconds=self.ttl(*key))
                and not (key in self.lost and now - self.lost[key] < wait)]

    def check_after_tick(self, now: datetime) -> None:
        if not self.policy.dry_run:
            assert not self.overdue(now), f"idle copies {self.overdue(now)} not decided at the tick of {now}"
            return
        for key in self.overdue(now):
            assert self.dry_seen.get(key) == self.copies[key].touched, f"dry run never decided idle copy {key}"

    def check_usage(self) -> None:
        for volume in VOLUMES:
            assert self.state.volumes[volume].used_bytes() == self.used[volume]

    # -- the schedule ---------------------------------------------------------------------------------

    def pick(self, index: int, *, ready: bool) -> tuple[str, str] | None:
        """The copy an action is about: by index among the known (or ready) copies, so that
        random schedules mostly act on copies that exist."""
        keys = sorted(key for key, copy in self.copies.items() if copy.ready or not ready)
        return keys[index % len(keys)] if keys else None

    def touch(self, key: tuple[str, str]) -> None:
        self.copies[key].touched += 1

    def step(self, action: tuple) -> None:
        kind, *args = action
        if kind == "tick":
            self.now += timedelta(seconds=args[0])
            now = self.now
            self.emit(Tick(SITE, now))
            self.check_after_tick(now)
        elif kind == "fill":
            self.fill(*args)
        elif kind == "read":
            key = self.pick(args[0], ready=True)
            if key is not None:
                volume = None if args[1] else key[0]
                at = self.stamp()
                for other, copy in self.copies.items():
                    if other[1] == key[1] and copy.ready and volume in (None, other[0]):
                        copy.last_read = at
                        self.touch(other)
                self.emit(CopyRead(SITE, volume, PROJECT, key[1], at))
        elif kind == "lease":
            key = self.pick(args[0], ready=True)
            if key is not None:
                at = self.stamp()
                lease = TrueLease(key, at + timedelta(seconds=args[1]))
                self.leases.append(lease)
                self.copies[key].generation += 1
                self.touch(key)
                self.emit(LeaseAcquired(SITE, *copy_of(key), f"l{len(self.leases) - 1}", lease.expires_at,
                                        self.copies[key].generation, at, holder="job"))
        elif kind == "renew" and self.leases:
            index, ttl = args[0] % len(self.leases), args[1]
            lease = self.leases[index]
            if lease.live(self.now) and self.copies[lease.key].ready:
                at = self.stamp()
                lease.expires_at = max(lease.expires_at, at + timedelta(seconds=ttl))
                self.copies[lease.key].generation += 1
                self.touch(lease.key)
                self.emit(LeaseRenewed(SITE, *copy_of(lease.key), f"l{index}", lease.expires_at,
                                       self.copies[lease.key].generation, at))
        elif kind == "release" and self.leases:
            index = args[0] % len(self.leases)
            lease = self.leases[index]
            if lease.released_at is None:
                lease.released_at = self.stamp()
                self.copies[lease.key].generation += 1
                self.touch(lease.key)
                self.emit(LeaseReleased(SITE, *copy_of(lease.key), f"l{index}", self.copies[lease.key].generation,
                                        lease.released_at))
        elif kind == "pin":
            key = self.pick(args[0], ready=False)
            if key is not None:
                self.copies[key].pinned = args[1]
                self.copies[key].generation += 1
                self.touch(key)
                self.emit(PinChanged(SITE, *copy_of(key), args[1], self.copies[key].generation, self.stamp()))
        elif kind == "need":
            volume, need = args
            self.requests += 1
            self.space_wanted[f"r{self.requests}"] = need
            self.check_space(volume, need, self.emit(SpaceNeeded(SITE, volume, need, f"r{self.requests}",
                                                                 self.stamp())))
        elif kind == "report":
            self.report(args[0])
        elif kind == "withdraw":
            self.withdraw(args[0])
        elif kind == "policy":
            volume, ttl, marks = args
            self.volume_ttl[volume], self.marks[volume] = ttl, marks
            self.report(volume)
        elif kind == "ttl":
            scope, index, ttl = args
            target = TARGETS[scope][index % len(TARGETS[scope])]
            self.overrides[scope][target] = ttl
            self.emit(TtlChanged(SITE, scope, target, ttl, self.stamp()))
        elif kind == "evict":
            key = self.pick(args[0], ready=False) or ("v1", "c-unknown")
            self.emit(EvictRequested(SITE, *copy_of(key), "operator", self.stamp()))
        elif kind == "drop":
            self.drop_next = True
        self.check_usage()

    def run(self, actions: list[tuple]) -> World:
        for action in actions:
            self.step(action)
        return self

    def settle(self) -> None:
        """Tick one second at a time until a tick decides nothing."""
        for _ in range(50):
            self.now += timedelta(seconds=1)
            outcomes = self.emit(Tick(SITE, self.now))
            self.check_after_tick(self.now)
            if not any(isinstance(o, Decision) for o in outcomes):
                return
        raise AssertionError("decisions did not stop")


volumes = st.sampled_from(VOLUMES)
commits = st.sampled_from(sorted(FETCHED))
which = st.integers(0, 9)  # a copy, by index among those that exist
ttls = st.sampled_from([None, 120, 2000])
ticks = st.tuples(st.just("tick"), st.sampled_from([1, 30, 200, 301, 650, 3600]))
fills = st.tuples(st.just("fill"), volumes, commits)
action = st.one_of(
    ticks, ticks, fills, fills, fills,
    st.tuples(st.just("read"), which, st.booleans()),
    st.tuples(st.just("lease"), which, st.sampled_from([60, 400, 900])),
    st.tuples(st.just("renew"), st.integers(0, 20), st.sampled_from([60, 400, 900])),
    st.tuples(st.just("release"), st.integers(0, 20)),
    st.tuples(st.just("pin"), which, st.booleans()),
    st.tuples(st.just("need"), volumes, st.sampled_from([100, 400, 900])),
    st.tuples(st.just("report"), volumes),
    st.tuples(st.just("withdraw"), volumes),
    st.tuples(st.just("policy"), volumes, st.sampled_from([None, 300, 1200]),
              st.sampled_from([(None, None), (0.6, 0.4), (0.8, 0.8)])),
    st.tuples(st.just("ttl"), st.sampled_from(["commit", "dataset"]), st.integers(0, 4), ttls),
    st.tuples(st.just("evict"), which),
)
schedules = st.lists(action, min_size=20, max_size=60)
lossy_schedules = st.lists(action | st.just(("drop",)), min_size=20, max_size=60)


@EXAMPLES
@given(lossy_schedules)
def test_protected_copies_are_never_decided_and_idle_ones_are_decided_within_a_tick(actions):
    # Both properties are asserted while the schedule runs: check_decision on every decision,
    # check_after_tick after every tick (a lost command holds its copy only redecide_after_seconds).
    world = World().run(actions)
    world.settle()
    assert not any(isinstance(fact, EvictionRefused) for fact, _ in world.log), \
        "the cacher refused a decision although the policy saw every fact"


@EXAMPLES
@given(schedules)
def test_capacity_settles_below_the_low_watermark_or_with_nothing_eligible(actions):
    world = World().run(actions)
    world.settle()
    clock = world.state.clock or world.now
    for volume in VOLUMES:
        high, low = world.watermarks(volume)
        used = world.used[volume]
        eligible = [key for key in world.copies if key[0] == volume and world.evictable(key, clock)]
        reclaiming = world.state.volumes[volume].reclaiming
        assert used < low * CAPACITY or not eligible or (used <= high * CAPACITY and not reclaiming), \
            f"{volume}: {used} used, {eligible} still evictable"


@EXAMPLES
@given(lossy_schedules)
def test_the_same_schedule_gives_the_same_decisions(actions):
    first, second = World().run(actions), World().run(actions)

    assert first.log == second.log
    assert first.state.to_dict() == second.state.to_dict()


@EXAMPLES
@given(lossy_schedules, st.integers(0, 40), st.booleans())
def test_state_restored_from_json_at_any_point_decides_the_same(actions, cut, dry_run):
    policy = DRY if dry_run else LIVE
    world = World(policy).run(actions[:cut])
    data = json.loads(json.dumps(world.state.to_dict()))
    restored = copying.deepcopy(world)
    restored.state = SiteState.from_dict(data)
    assert restored.state == world.state
    assert restored.state.to_dict() == data

    done = len(world.log)
    world.run(actions[cut:])
    restored.run(actions[cut:])
    assert restored.log[done:] == world.log[done:]


@EXAMPLES
@given(lossy_schedules)
def test_every_fact_delivered_twice_changes_nothing(actions):
    # World(duplicate=True) applies each fact a second time and asserts no outcome, same state.
    once, twice = World().run(actions), World(duplicate=True).run(actions)

    assert twice.log == once.log


@EXAMPLES
@given(schedules)
def test_dry_run_never_evicts_and_repeats_a_decision_only_when_the_copy_changed(actions):
    # check_decision refuses a repeat on an unchanged copy; check_after_tick wants every idle,
    # unprotected copy dry-run decided once for its current state.
    world = World(DRY).run(actions)
    world.settle()
    assert not any(isinstance(fact, CopyEvicted) for fact, _ in world.log)
    assert all(o.dry_run for _, outcomes in world.log for o in outcomes if isinstance(o, Decision))
