"""Class 5 of issue 11: two volumes over one directory.

Vision's copy is ready and leased on ``nfs1``. Someone registers ``nfs1``'s directory again
under another name — the same path, ``…/../nfs1``, a trailing slash, a symbolic link, a bind
mount — and evicts the copy "on the alias": through the gateway, and as a command on the bus.
No alias is registered (not even by an administrator), every eviction is refused, and the
copy stays ready, leased and whole, with its path.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from lakecache.core.contracts.cache import CacheEvictionRequested
from tests.security.actors import VICTIM, Scene
from tests.security.conftest import SITE, VOLUME
from tests.servers.registry import in_ci

pytestmark = pytest.mark.asyncio(loop_scope="module")

TREE = {"weights.bin": os.urandom(25_000), "config.json": b'{"layers": 12}'}


def files_in(path: str) -> dict[str, bytes]:
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def leased(world: Scene) -> dict:
    """vision/cats ready on nfs1 and leased by a training job for an hour."""
    ada = world["ada"]
    commit = await world.synced(ada, VICTIM, "cats", TREE)
    status = await world.cached(ada, VICTIM, "cats")
    url = world.copy_path(VICTIM, commit["id"])
    lease = await world.ok(ada, "POST", url + "/leases", json_body={"holder": "train-job", "ttl_seconds": 3600})
    return {"commit": commit, "url": url, "path": status["volumes"][0]["path"], "lease": lease}


async def assert_copy_intact(world: Scene, leased: dict) -> None:
    status = await world.ok(world["ada"], "GET", leased["url"])
    assert [(v["volume"], v["state"], v["path"]) for v in status["volumes"]] == [(VOLUME, "ready", leased["path"])]
    at_cacher = await world.cacher_copy(world["ada"], VICTIM, leased["commit"]["id"])
    assert (at_cacher["volume"], at_cacher["state"]) == (VOLUME, "ready") and at_cacher["leased_until"] is not None
    assert files_in(leased["path"]) == TREE


async def volume_names(world: Scene) -> list[str]:
    page = await world.ok(world["admin"], "GET", f"/api/v1/sites/{SITE}/volumes")
    return [v["name"] for v in page["items"]]


def bind_mount(source: Path, target: Path) -> None:
    target.mkdir()
    done = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        reason = f"cannot bind-mount a volume's directory: {done.stderr.strip() or done.returncode}"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)


async def test_no_second_volume_over_the_same_directory_is_registered(world, leased):
    volume = world.stack.volume
    link = world.root / "nfs1-link"
    link.symlink_to(volume, target_is_directory=True)
    bound = world.root / "nfs1-bind"
    bind_mount(volume, bound)
    try:
        assert os.stat(bound).st_ino == os.stat(volume).st_ino
        for alias in [str(volume), f"{volume}/../{volume.name}", f"{volume}/", f"{volume}/.", str(link), str(bound)]:
            answer = await world.call(world["admin"], "POST", f"/api/v1/sites/{SITE}/volumes",
                                      json_body={"name": "nfs2", "path": alias})
            assert answer.status == 400, (alias, answer.status, answer.body)
            assert answer.problem_type in ("invalid-argument", "invalid-request"), answer.body
    finally:
        subprocess.run(["umount", str(bound)], check=False)
    assert await volume_names(world) == [VOLUME]
    await assert_copy_intact(world, leased)


async def test_the_issue_attack_cache_and_evict_on_an_alias_deletes_nothing(world, leased):
    ada, commit, volume = world["ada"], leased["commit"], world.stack.volume
    recorder = await world.record()
    # The issue's steps: register the alias, cache the commit there, evict it there.
    registered = await world.call(world["admin"], "POST", f"/api/v1/sites/{SITE}/volumes",
                                  json_body={"name": "nfs2", "path": f"{volume}/../{volume.name}"})
    assert registered.status == 400, registered.body
    cached = await world.call(ada, "POST", "/api/v1/caches",
                              json_body={"project": VICTIM, "dataset": "cats", "site": SITE, "volume": "nfs2"})
    assert cached.status == 404 and "has no volume 'nfs2'" in cached.body["detail"], cached.body
    on_alias = await world.call(ada, "DELETE", leased["url"], params={"volume": "nfs2"})
    assert on_alias.status == 409 and on_alias.problem_type == "conflict", on_alias.body
    # Asked on the real volume, the evictor holds it: the lease wins.
    assert (await world.call(ada, "DELETE", leased["url"])).status == 202
    # The commands themselves, forged on the bus: the alias is no volume, and the copy is leased.
    decisions = {volume: uuid.uuid4().hex for volume in ("nfs2", VOLUME)}
    for volume, decision in decisions.items():
        await world.forge(CacheEvictionRequested(decision_id=decision, site=SITE, volume=volume,
                                                 commit_id=commit["id"], dataset_id=commit["dataset_id"],
                                                 reason="manual", project=VICTIM))
    await world.settled()

    refused = {e["decision_id"]: e["reason"] for e in recorder.of("cache.eviction.refused")}
    assert set(decisions.values()) <= set(refused), recorder.events
    assert recorder.of("cache.evicted") == []
    await assert_copy_intact(world, leased)
    lease = await world.ok(ada, "PUT", f"{leased['url']}/leases/{leased['lease']['id']}", json_body={})
    assert lease["id"] == leased["lease"]["id"]
