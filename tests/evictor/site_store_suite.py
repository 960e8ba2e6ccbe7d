"""Conformance suite of the evictor's site-store port (``lakecache.evictor.site_store``), run
against every adapter.

An adapter's test module subclasses :class:`SiteStoreConformance` and provides an async ``store``
fixture yielding a fresh, empty store. An adapter that keeps states across a restart also
subclasses :class:`SiteStoreDurability` and provides ``reopen``: an async callable that ends the
store's life in this process and returns a new store over what it kept (a reopened database, a
table recovered from its changelog).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecache.evictor.policy import (
    CopyReady,
    LeaseAcquired,
    PinChanged,
    PolicySettings,
    SiteState,
    Tick,
    TtlChanged,
    VolumeReported,
    apply,
)
from lakecache.evictor.site_store import SiteStore

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
VOLUME, PROJECT = "nfs1", "team"
#: TTL override targets are whatever an administrator typed (1-128 characters, no control
#: characters): a document store refuses such keys in a nested document.
AWKWARD_TARGETS = ("ds.v1", "$ds", "a/b", "ünïcode ds", " padded ")

Reopen = Callable[[], Awaitable[SiteStore]]


def commit(n: int) -> str:
    return f"{n:064x}"


def lived_state(site: str, copies: int = 4) -> dict[str, Any]:
    """A site's state after a history touching every part of it (a volume report, ready copies,
    a lease, a pin, TTL overrides, decisions), as ``SitePolicies`` saves it."""
    state, settings = SiteState(site), PolicySettings(default_ttl_seconds=600)
    facts: list[Any] = [VolumeReported(site, VOLUME, 10_000_000, 1_000, 3600, 0.9, 0.75, T0)]
    facts += [CopyReady(site, VOLUME, PROJECT, commit(n), f"ds-{n % 2}", 2000 + n, 1000 + n, n, T0 + n * MINUTE)
              for n in range(copies)]
    facts += [LeaseAcquired(site, VOLUME, PROJECT, commit(0), "lease-1", T0 + 3 * 60 * MINUTE, 0, T0 + MINUTE,
                            holder="job-7"),
              PinChanged(site, VOLUME, PROJECT, commit(1), True, 1, T0 + 2 * MINUTE)]
    facts += [TtlChanged(site, "dataset", target, 60 + i, T0) for i, target in enumerate(AWKWARD_TARGETS)]
    facts += [TtlChanged(site, "commit", commit(2), None, T0 + MINUTE), Tick(site, T0 + 2 * 60 * MINUTE)]
    for fact in facts:
        apply(state, fact, settings)
    return state.to_dict()


class SiteStoreConformance:
    """What every adapter of the site store does, in one process."""

    async def test_a_site_never_saved_loads_as_none_and_is_not_listed(self, store: SiteStore):
        assert await store.load("dgx") is None
        assert await store.sites() == []

    async def test_a_saved_state_loads_back_equal_and_restores_the_same_policy_state(self, store: SiteStore):
        saved = lived_state("dgx")
        await store.save("dgx", saved)

        loaded = await store.load("dgx")
        assert loaded == saved
        restored = SiteState.from_dict(loaded)
        assert restored == SiteState.from_dict(saved)
        # What the history left is all there: decisions, the lease, the pin, every override.
        assert {copy.decision is not None for copy in restored.volumes[VOLUME].copies.values()} == {True, False}
        assert restored.find(VOLUME, PROJECT, commit(0)).leases["lease-1"].holder == "job-7"
        assert restored.find(VOLUME, PROJECT, commit(1)).pinned
        assert sorted(restored.dataset_ttls) == sorted(AWKWARD_TARGETS)

    async def test_keys_of_any_spelling_and_every_json_value_round_trip(self, store: SiteStore):
        keys = {key: i for i, key in enumerate(("a.b", "$set", "a/b", "ünï", "", " ", "x" * 300, "0"))}
        values = {"big": 2**62 + 1, "negative": -(2**40), "float": 0.1, "tiny": 1e-300, "true": True, "false": False,
                  "none": None, "text": "tab\tquote\"newline\nnul\u0000emoji\U0001f600", "empty_list": [],
                  "empty_dict": {}, "nested": [[1, [2, []]], {"k.k": [{"$x": None}]}], "keys": keys}
        await store.save("dgx", values)

        assert await store.load("dgx") == values

    async def test_save_replaces_the_whole_state(self, store: SiteStore):
        await store.save("dgx", {"site": "dgx", "volumes": {"nfs1": {"name": "nfs1"}}, "dataset_ttls": {"d": 1}})
        replacement = {"site": "dgx", "volumes": {}}
        await store.save("dgx", replacement)

        assert await store.load("dgx") == replacement
        assert await store.sites() == ["dgx"]

    async def test_each_site_keeps_its_own_state(self, store: SiteStore):
        first, second = lived_state("dgx"), lived_state("aws-east", copies=2)
        await store.save("dgx", first)
        await store.save("aws-east", second)
        await store.save("dgx", {"site": "dgx"})

        assert await store.load("aws-east") == second
        assert await store.load("dgx") == {"site": "dgx"}
        assert await store.load("dgx-2") is None

    async def test_sites_lists_each_saved_site_once_in_order(self, store: SiteStore):
        for site in ("site-c", "site-a", "site-b", "site-a"):
            await store.save(site, {"site": site})
        await store.load("site-d")  # loading is not saving

        assert await store.sites() == ["site-a", "site-b", "site-c"]

    async def test_saves_of_different_sites_at_once_all_land(self, store: SiteStore):
        sites = [f"site-{n}" for n in range(12)]
        await asyncio.gather(*(store.save(site, {"site": site, "n": n}) for n, site in enumerate(sites)))

        assert await store.sites() == sorted(sites)
        assert [await store.load(site) for site in sites] == [{"site": site, "n": n} for n, site in enumerate(sites)]

    async def test_a_large_state_round_trips(self, store: SiteStore):
        # Thousands of copies on a busy site: the whole state is one value, loaded for every event.
        large = lived_state("dgx", copies=2000)
        await store.save("dgx", large)

        assert await store.load("dgx") == large


class SiteStoreDurability:
    """What an adapter that keeps states across a restart does (a fixture ``reopen``)."""

    async def test_the_last_saved_state_of_every_site_outlives_a_restart(self, store: SiteStore, reopen: Reopen):
        first, second = lived_state("dgx"), lived_state("aws-east", copies=2)
        await store.save("dgx", {"site": "dgx", "superseded": True})
        await store.save("dgx", first)
        await store.save("aws-east", second)

        again = await reopen()
        assert await again.sites() == ["aws-east", "dgx"]
        assert await again.load("dgx") == first
        assert await again.load("aws-east") == second
        # And the store goes on from there.
        await again.save("aws-east", {"site": "aws-east"})
        assert await again.load("aws-east") == {"site": "aws-east"}
