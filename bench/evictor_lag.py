"""Benchmark: how long after a space request the evictor's Faust app decides, under a steady usage load.

Everything runs on 127.0.0.1: one Kafka broker (the test server from tests/servers), one
``EvictorApp`` in this process, and two helper processes (so neither competes with the app's
event loop): a *generator* that publishes usage events (``dataset.read``, lease acquired /
renewed / released) at ``--rate`` events/s across ``--sites`` × ``--copies`` ready copies,
interleaved with ``--space-rate`` ``cache.space.requested`` events per second, and an
*observer* that consumes the sites' command topics as the cachers do. A space request's
CloudEvents time is when it was sent; its decision lag is the time from then until the observer
receives the ``cache.eviction.requested`` that answers it. Prints the lag's p50/p99, the input
rate achieved, the evictor's throughput and how far its consumer group fell behind. See
bench/README.md.

    .venv/bin/python -m bench.evictor_lag                                # 5,000 events/s for 60 s
    .venv/bin/python -m bench.evictor_lag --seconds 20 --rate 1000       # smoke run
    .venv/bin/python -m bench.evictor_lag --generator-in-process         # generator on the app's loop
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from lakecache.core.adapters.bus.kafka import KafkaEventBus
from lakecache.core.contracts import Event, EventData, decode, encode, route
from lakecache.core.contracts.cache import CacheEvictionRequested, CacheReady, CacheSpaceRequested
from lakecache.core.contracts.topics import CACHE_COMMANDS, CACHE_EVENTS, EVICTION, EVICTION_TICKS, USAGE
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased, LeaseRenewed
from lakecache.evictor.settings import EvictorSettings
from lakecache.evictor.sites import EvictorMetrics
from lakecache.evictor.streams import EvictorApp
from tests.servers.registry import start as start_server

VOLUME, PROJECT, DATASET = "fast", "bench", "bench-ds"
FETCHED = 1000  # bytes a copy's fill added: what evicting it is estimated to free
LEASE_SPAN = timedelta(minutes=10)
# A command does not name the request it answers; its explanation does ("… (request <fill id>) …"),
# and the bench's fill ids carry the request's time: lag-<microseconds since the epoch>-<sequence>.
REQUEST = re.compile(r"\(request (lag-\d+-\d+)\)")


@dataclass(frozen=True)
class Plan:
    bootstrap: str
    sites: int
    copies: int
    rate: float
    space_rate: float
    seconds: float
    seed: int
    tag: str

    def site(self, index: int) -> str:
        return f"bench-{self.tag}-{index}"

    def site_names(self) -> list[str]:
        return [self.site(i) for i in range(self.sites)]

    @staticmethod
    def commit(site: int, copy: int) -> str:
        return f"{site:032x}{copy:032x}"


def producer_for(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # As KafkaEventBus configures its producer: idempotent, acks from all in-sync replicas.
    return AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, enable_idempotence=True, acks="all",
                            linger_ms=5, max_batch_size=256 * 1024)


async def send(producer: AIOKafkaProducer, event: Event[EventData]) -> None:
    """Route and encode like ``EventPublisher``, without waiting for the broker's ack."""
    topic, key = route(event)
    encoded = encode(event)
    await producer.send(topic.name, encoded.value, key=key, headers=encoded.headers)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- the generator ----------------------------------------------------------------------------

@dataclass
class Load:
    """The usage mix: mostly reads; leases acquired, renewed and released on random copies."""

    plan: Plan
    rng: random.Random
    leases: dict[int, list[tuple[str, int]]] = field(default_factory=dict)  # site -> [(lease id, copy)]
    space_requests: dict[int, int] = field(default_factory=dict)  # site -> requests so far
    counts: dict[str, int] = field(default_factory=dict)
    max_leases: int = 0

    def __post_init__(self) -> None:
        self.max_leases = max(1, self.plan.copies // 5)

    def usage(self, now: float) -> Event[EventData]:
        site_index = self.rng.randrange(self.plan.sites)
        site, held = self.plan.site(site_index), self.leases.setdefault(site_index, [])
        copy = self.rng.randrange(self.plan.copies)
        commit_id = self.plan.commit(site_index, copy)
        roll = self.rng.random()
        data: EventData
        if roll < 0.075 and len(held) < self.max_leases:
            lease_id = uuid.uuid4().hex
            held.append((lease_id, copy))
            data = LeaseAcquired(lease_id=lease_id, project=PROJECT, site=site, volume=VOLUME, dataset_id=DATASET,
                                 commit_id=commit_id, holder=f"job-{lease_id[:6]}",
                                 ttl_seconds=int(LEASE_SPAN.total_seconds()), expires_at=at(now) + LEASE_SPAN)
        elif roll < 0.225 and held:
            lease_id, copy = self.rng.choice(held)
            data = LeaseRenewed(lease_id=lease_id, site=site, volume=VOLUME, project=PROJECT,
                                commit_id=self.plan.commit(site_index, copy), expires_at=at(now) + LEASE_SPAN)
        elif roll < 0.30 and held:
            lease_id, copy = held.pop(self.rng.randrange(len(held)))
            data = LeaseReleased(lease_id=lease_id, site=site, volume=VOLUME, project=PROJECT,
                                 commit_id=self.plan.commit(site_index, copy))
        else:
            data = DatasetRead(project=PROJECT, site=site, volume=VOLUME, dataset_id=DATASET, commit_id=commit_id,
                               reader="bench-job", cache_hit=True, bytes_read=1 << 20)
        self.counts[data.event_type] = self.counts.get(data.event_type, 0) + 1
        return Event(data=data, source="/lakecache/sdk", time=at(now))

    def space(self, sequence: int, now: float) -> Event[EventData]:
        """A request for one more copy's worth than the site's requests so far: every one needs a
        new decision, since the copies decided for earlier ones are still pending (never answered)."""
        site_index = sequence % self.plan.sites
        done = self.space_requests[site_index] = self.space_requests.get(site_index, 0) + 1
        micros = int(now * 1e6)
        data = CacheSpaceRequested(site=self.plan.site(site_index), volume=VOLUME, bytes_needed=done * FETCHED,
                                   fill_id=f"lag-{micros}-{sequence}", commit_id=f"{sequence:064x}")
        return Event(data=data, source="/lakecache/cacher", time=at(micros / 1e6))


async def generate(plan: Plan) -> dict[str, Any]:
    """Publish the load for ``plan.seconds``; returns what was sent and what it cost."""
    producer = producer_for(plan.bootstrap, "bench-generator")
    await producer.start()
    load = Load(plan, random.Random(plan.seed))
    cpu0, start = time.process_time(), time.time()
    end, usage_sent, space_sent = start + plan.seconds, 0, 0
    try:
        while (now := time.time()) < end:
            elapsed = now - start
            while space_sent < int(elapsed * plan.space_rate) + 1 and space_sent < plan.space_rate * plan.seconds:
                await send(producer, load.space(space_sent, time.time()))
                space_sent += 1
            due = min(int(elapsed * plan.rate) - usage_sent, int(plan.rate / 20) + 1)  # at most 50 ms' worth at once
            for _ in range(max(0, due)):
                await send(producer, load.usage(now))
                usage_sent += 1
            await asyncio.sleep(0.005)
        await producer.flush()
    finally:
        await producer.stop()
    seconds = time.time() - start
    return {"usage": usage_sent, "space": space_sent, "seconds": seconds, "counts": load.counts,
            "cpu": time.process_time() - cpu0}


def generator_process(plan: Plan, go: Any, results: Any) -> None:
    go.wait()
    results.put(asyncio.run(generate(plan)))


# --- the observer -----------------------------------------------------------------------------

async def observe(plan: Plan, ready: Any, stop: Any) -> dict[str, Any]:
    """Receive the commands of every site; lag from the space request's time to sent / received."""
    consumer = AIOKafkaConsumer(bootstrap_servers=plan.bootstrap, client_id="bench-observer",
                                enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(CACHE_COMMANDS.for_site(site).name, p)
                  for site in plan.site_names() for p in range(CACHE_COMMANDS.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ready.set()
    received: dict[str, tuple[float, float]] = {}  # request -> (lag to sent, lag to received)
    duplicates = unmatched = 0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            got = time.time()
            for records in batches.values():
                for record in records:
                    data = decode(record.headers, record.value).data
                    found = REQUEST.search(data.explanation) if isinstance(data, CacheEvictionRequested) else None
                    if found is None:
                        unmatched += 1
                        continue
                    request = found.group(1)
                    if request in received:
                        duplicates += 1
                        continue
                    asked = int(request.split("-")[1]) / 1e6
                    received[request] = (record.timestamp / 1000 - asked, got - asked)
    finally:
        await consumer.stop()
    return {"received": received, "duplicates": duplicates, "unmatched": unmatched}


def observer_process(plan: Plan, ready: Any, stop: Any, results: Any) -> None:
    results.put(asyncio.run(observe(plan, ready, stop)))


# --- the evictor and the run ------------------------------------------------------------------

def jvm_cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Offsets:
    """Where the evictor stands on its input topics, as Kafka sees it (end and committed offsets)."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self.sources = [TopicPartition(spec.name, p) for spec in (USAGE, CACHE_EVENTS, EVICTION)
                        for p in range(spec.partitions)]
        self.ticks = [TopicPartition(EVICTION_TICKS.name, p) for p in range(EVICTION_TICKS.partitions)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-offsets")
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-offsets-admin")

    async def __aenter__(self) -> Offsets:
        await self.consumer.start()
        await self.admin.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def read(self) -> tuple[int, int]:
        """(committed lag on the source topics, messages ever written to the sources and ticks)."""
        ends = await self.consumer.end_offsets(self.sources + self.ticks)
        committed = await self.admin.list_consumer_group_offsets(self.group, partitions=self.sources)
        lag = 0
        for tp in self.sources:
            position = committed.get(tp)
            lag += max(0, ends[tp] - (position.offset if position is not None and position.offset >= 0 else 0))
        return lag, sum(ends.values())


async def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run(server, work: Path, args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:6]
    plan = Plan(server.bootstrap, args.sites, args.copies, args.rate, args.space_rate, args.seconds, args.seed, tag)
    async with KafkaEventBus.from_url(server.url, client_id="bench-evictor-lag") as bus:
        await bus.ensure_topics([CACHE_COMMANDS.for_site(site) for site in plan.site_names()])
    home = work / "evictor"
    home.mkdir()
    # Decisions are never answered here, so a request's copy stays pending: a lost-command
    # re-decision after the default 5 minutes would be a second answer to one request.
    settings = EvictorSettings(bus_url=server.url, home=home, evictor={"redecide_after_seconds": 86400})
    evictor = EvictorApp(settings, EvictorMetrics(CollectorRegistry()), app_id=f"bench-evictor-{tag}")
    evictor.app.sensors.add(evictor.app.monitor)  # counts the events the agents process
    await evictor.declare_topics()
    await evictor.app.start()
    try:
        async with Offsets(plan.bootstrap, evictor.app.conf.id) as offsets:
            await measure(plan, evictor, offsets, server, args)
    finally:
        await evictor.app.stop()


@dataclass
class Sample:
    seconds: float  # since the load started
    lag: int  # the evictor's consumer-group lag on its source topics (committed offsets)
    backlog: int  # messages written to its input topics that it has not processed yet
    processed: int  # events its agents processed so far


@dataclass
class Timeline:
    offsets: Offsets
    evictor: EvictorApp
    start: float
    samples: list[Sample] = field(default_factory=list)

    async def sample(self) -> Sample:
        lag, written = await self.offsets.read()
        processed = self.evictor.app.monitor.events_total  # every event of both agents since the start
        taken = Sample(time.time() - self.start, lag, max(0, written - processed), processed)
        self.samples.append(taken)
        return taken

    def rate(self, since: float, until: float) -> float:
        inside = [s for s in self.samples if since <= s.seconds <= until]
        if len(inside) < 2 or inside[-1].seconds <= inside[0].seconds:
            return float("nan")
        return (inside[-1].processed - inside[0].processed) / (inside[-1].seconds - inside[0].seconds)


async def publish_copies(plan: Plan) -> None:
    producer = producer_for(plan.bootstrap, "bench-setup")
    await producer.start()
    try:
        readied = time.time() - 3600
        for s in range(plan.sites):
            for c in range(plan.copies):
                data = CacheReady(fill_id=f"fill-{s}-{c}", project=PROJECT, dataset_id=DATASET,
                                  commit_id=plan.commit(s, c), site=plan.site(s), volume=VOLUME, path=f"/v/{s}/{c}",
                                  files=1, size_bytes=FETCHED, bytes_fetched=FETCHED, bytes_deduplicated=0,
                                  duration_seconds=1.0)
                await send(producer, Event(data=data, source="/lakecache/cacher", time=at(readied + c)))
        await producer.flush()
    finally:
        await producer.stop()


async def measure(plan: Plan, evictor: EvictorApp, offsets: Offsets, server, args: argparse.Namespace) -> None:
    print(f"{plan.sites} sites × {plan.copies} copies; publishing their cache.ready …", flush=True)
    await publish_copies(plan)

    async def all_ready() -> bool:
        return all(evictor.table.get(site) is not None
                   and len(evictor.table[site]["volumes"].get(VOLUME, {}).get("copies", {})) == plan.copies
                   for site in plan.site_names())

    await wait_for(all_ready, 300, "the evictor to hold every copy")

    spawn = multiprocessing.get_context("spawn")
    ready, stop, observed = spawn.Event(), spawn.Event(), spawn.Queue()
    observer = spawn.Process(target=observer_process, args=(plan, ready, stop, observed), name="bench-observer")
    observer.start()
    if not await asyncio.to_thread(ready.wait, 60):
        raise RuntimeError("the observer process did not start within 60 s")
    go, generated = spawn.Event(), spawn.Queue()
    generator = None
    if not args.generator_in_process:
        generator = spawn.Process(target=generator_process, args=(plan, go, generated), name="bench-generator")
        generator.start()
        await asyncio.sleep(3)  # the child's imports, before the clock starts

    where = "on the evictor's event loop" if args.generator_in_process else "in its own process"
    print(f"load: {plan.rate:,.0f} usage events/s + {plan.space_rate:g} space requests/s for {plan.seconds:g} s, "
          f"generator {where} …", flush=True)
    broker_pid = server.proc.pid if server.proc else None
    cpu0, jvm0 = time.process_time(), jvm_cpu_seconds(broker_pid)
    timeline = Timeline(offsets, evictor, time.time())
    await timeline.sample()
    if generator is None:
        running: asyncio.Future = asyncio.ensure_future(generate(plan))
    else:
        go.set()
        running = asyncio.ensure_future(asyncio.to_thread(generated.get))
    while not running.done():
        await asyncio.wait({running}, timeout=1.0)
        await timeline.sample()
    result = running.result()
    if generator is not None:
        generator.join(30)
    load_seconds = time.time() - timeline.start
    cpu = {"evictor": (time.process_time() - cpu0) / load_seconds}
    jvm1 = jvm_cpu_seconds(broker_pid)
    if jvm0 is not None and jvm1 is not None:
        cpu["broker"] = (jvm1 - jvm0) / load_seconds
    at_stop = await timeline.sample()

    print(f"load done; waiting up to {args.drain_timeout:g} s for the evictor to catch up …", flush=True)
    caught_up = None
    deadline = time.time() + args.drain_timeout
    while time.time() < deadline:
        await asyncio.sleep(1.0)
        if (await timeline.sample()).lag == 0:
            caught_up = timeline.samples[-1].seconds - load_seconds
            break
    await asyncio.sleep(3)  # the last commands reach the observer
    stop.set()
    observation = await asyncio.to_thread(observed.get, True, 60)
    observer.join(30)
    report(plan, result, observation, timeline, load_seconds, at_stop, caught_up, cpu, args)
    state_sizes(evictor, plan)


def state_sizes(evictor: EvictorApp, plan: Plan) -> None:
    """Every event loads and saves its site's whole state: its size is the evictor's cost per event."""
    sizes, leases = [], []
    for site in plan.site_names():
        state = evictor.table.get(site)
        if state is not None:
            sizes.append(len(json.dumps(state)))
            leases.append(sum(len(copy["leases"]) for volume in state["volumes"].values()
                              for copy in volume["copies"].values()))
    if sizes:
        print(f"state      per site at the end: {statistics.mean(sizes) / 1000:,.0f} kB of JSON, "
              f"{statistics.mean(leases):,.0f} lease records on average (released leases are kept for "
              "forget_after_seconds, a week by default); each event reads and rewrites it")


def report(plan: Plan, result: dict[str, Any], observation: dict[str, Any], timeline: Timeline, load_seconds: float,
           at_stop: Sample, caught_up: float | None, cpu: dict[str, float], args: argparse.Namespace) -> None:
    sent = result["usage"] + result["space"]
    mix = ", ".join(f"{n:,} {t.removeprefix('lakecache.')}" for t, n in sorted(result["counts"].items()))
    print(f"\ninput      {sent / result['seconds']:,.0f} events/s achieved of {plan.rate + plan.space_rate:,.0f} "
          f"targeted: {result['usage']:,} usage ({mix}) and {result['space']:,} space requests in "
          f"{result['seconds']:.1f} s; generator CPU {result['cpu'] / result['seconds']:.0%} of a core"
          + (" (with the evictor: one process)" if args.generator_in_process else ""))
    print(f"evictor    processed {timeline.rate(0, load_seconds):,.0f} events/s during the load; CPU during the "
          f"load: evictor process {cpu['evictor']:.0%} of a core"
          + (" (with the generator)" if args.generator_in_process else "")
          + (f", Kafka broker {cpu['broker']:.0%}" if "broker" in cpu else ""))
    during = [s for s in timeline.samples if s.seconds <= load_seconds] + [at_stop]
    print(f"behind     backlog (input not yet processed) max {max(s.backlog for s in during):,} events, "
          f"{at_stop.backlog:,} when the load stopped; consumer-group lag (committed offsets) max "
          f"{max(s.lag for s in during):,}, {at_stop.lag:,} when the load stopped")
    after = timeline.samples[-1]
    state = "not caught up" if caught_up is None else "caught up"
    draining = f", processing {timeline.rate(load_seconds, after.seconds):,.0f} events/s meanwhile" \
        if at_stop.backlog else ""
    print(f"           {state} {after.seconds - load_seconds:.1f} s after the load stopped (backlog "
          f"{after.backlog:,}){draining}")
    received = observation["received"]
    print(f"decisions  {len(received)}/{result['space']} space requests answered"
          + (f", {observation['duplicates']} duplicate commands" if observation["duplicates"] else "")
          + (f", {observation['unmatched']} other commands" if observation["unmatched"] else ""))
    if not received:
        return
    to_sent = [v[0] for v in received.values()]
    to_received = [v[1] for v in received.values()]
    print(f"lag        request time → command received: p50 {percentile(to_received, 0.5) * 1000:,.0f} ms, "
          f"p99 {percentile(to_received, 0.99) * 1000:,.0f} ms, max {max(to_received) * 1000:,.0f} ms")
    print(f"           request time → command sent:     p50 {percentile(to_sent, 0.5) * 1000:,.0f} ms, "
          f"p99 {percentile(to_sent, 0.99) * 1000:,.0f} ms (the command record's timestamp)")
    print("           median by tenth of the load: " + ", ".join(
        f"{statistics.median(part) * 1000:,.0f}" for part in tenths(received, load_seconds) if part) + " ms")


def tenths(received: dict[str, tuple[float, float]], load_seconds: float) -> list[list[float]]:
    times = sorted((int(request.split("-")[1]) / 1e6, lag) for request, (_, lag) in received.items())
    if not times:
        return []
    first = times[0][0]
    parts: list[list[float]] = [[] for _ in range(10)]
    for asked, lag in times:
        parts[min(9, int((asked - first) / max(load_seconds, 1e-9) * 10))].append(lag)
    return parts


def bench(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-evictor-"))
    server = start_server("kafka", work / "servers")
    print(f"Kafka at {server.bootstrap}; work directory {work}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} before the run", flush=True)
    try:
        asyncio.run(run(server, work, args))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--rate", type=float, default=5000, help="usage events per second (default 5000)")
    parser.add_argument("--space-rate", type=float, default=10, help="space requests per second (default 10)")
    parser.add_argument("--sites", type=int, default=50, help="sites (default 50)")
    parser.add_argument("--copies", type=int, default=20, help="ready copies per site (default 20)")
    parser.add_argument("--drain-timeout", type=float, default=900,
                        help="seconds to wait for the evictor to catch up after the load (default 900)")
    parser.add_argument("--seed", type=int, default=20250301, help="seed of the usage mix")
    parser.add_argument("--generator-in-process", action="store_true",
                        help="run the generator on the evictor's event loop instead of in its own process")
    args = parser.parse_args()
    if min(args.seconds, args.rate, args.space_rate, args.sites, args.copies) <= 0:
        parser.error("durations, rates and counts must be positive")
    requests_per_site = args.space_rate * args.seconds / args.sites
    if requests_per_site > args.copies * 0.75:
        parser.error(f"{requests_per_site:.0f} space requests per site would use up its {args.copies} copies "
                     "(a fifth may be leased): raise --copies or --sites, or lower --space-rate")
    bench(args)


if __name__ == "__main__":
    main()
