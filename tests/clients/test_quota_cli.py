"""``lakecache site quota`` and per-project quotas through the gateway, in front of the whole stack
(ADR 0018): setting, listing and removing a quota, who may, bad input, and fills that pass a
project's quota evicting that project's idle copies only, or failing with the quota named."""

from __future__ import annotations

import json
import os
import time
import urllib.error
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_SITE as SITE
from tests.support.stack import STACK_VOLUME, Stack, create_user, gateway_call, served_stack

runner = CliRunner()
QUOTA = f"/api/v1/sites/{SITE}/volumes/{STACK_VOLUME}/quotas"
OLD_TEAM, OLD_LAB, NEW_TEAM = ({"old.bin": os.urandom(40_000)}, {"old.bin": os.urandom(40_000)},
                               {"new.bin": os.urandom(30_000)})


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    """The stack, its cacher waiting at most 5 s for room; the CLI pointed at it as the administrator."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAKECACHE_CONFIG", raising=False)
    monkeypatch.delenv("LAKECACHE_PROJECT", raising=False)
    with served_stack(tmp_path / "home", tmp_path / STACK_VOLUME,
                      cacher={"space_wait_seconds": 5, "space_poll_seconds": 0.05}) as running:
        monkeypatch.setenv("LAKECACHE_API_URL", running.base_url)
        monkeypatch.setenv("LAKECACHE_TOKEN", running.token)
        monkeypatch.setenv("LAKECACHE_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "client-cache"))
        yield running


def cli(*args: str):
    return runner.invoke(app, list(args))


def cli_json(*args: str):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flat(text: str) -> str:
    return " ".join(text.split())


def synced(tmp_path, name: str, files: dict[str, bytes]) -> None:
    for args in (["data", "create", name], ["data", "sync", name, str(write_tree(tmp_path / name, files)), "-m", "1"]):
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.output


def cache(tmp_path, name: str, files: dict[str, bytes]):
    """Sync ``files`` into ``name`` and ask for the commit at the site (the CLI waits for its end)."""
    synced(tmp_path, name, files)
    return cli("cache", "request", name, "--site", SITE, "--json")


def state(stack: Stack, project: str, commit_id: str) -> str:
    found = gateway_call(stack.base_url, stack.token, "GET",
                         f"/api/v1/projects/{project}/sites/{SITE}/copies/{commit_id}")
    return found["state"]


def wait_for(check, message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)


def projects(listing: list[dict]) -> dict[str, dict]:
    [volume] = listing
    return {p["project"]: p for p in volume["projects"]}


def test_quotas_are_set_listed_and_removed_by_an_administrator_and_read_by_members(stack, tmp_path, monkeypatch):
    cached = cache(tmp_path, "team/ds", {"a.bin": b"a" * 1000})
    assert cached.exit_code == 0, cached.output

    made = cli_json("site", "quota", SITE, "1.5G", "--volume", STACK_VOLUME, "--project", "team")
    assert made == {"site": SITE, "volume": STACK_VOLUME, "project": "team", "quota_bytes": 3 << 29,
                    "charged_bytes": 1000, "shared_bytes": 0}
    cli_json("site", "quota", SITE, "10M", "--volume", STACK_VOLUME, "-p", "lab")
    shown = projects(cli_json("site", "volumes", SITE))
    assert shown["team"]["quota_bytes"] == 3 << 29 and shown["lab"]["quota_bytes"] == 10 << 20
    table = flat(cli("site", "volumes", SITE).stdout)
    assert "project quota charged shared" in table and "team 1.5" in table and "lab 10" in table

    # A member reads their own project's quota, never another's; setting one is the administrator's.
    monkeypatch.setenv("LAKECACHE_TOKEN", create_user(stack.base_url, stack.token, "ada", {"team": "admin"}))
    refused = cli("site", "quota", SITE, "2G", "--volume", STACK_VOLUME, "--project", "team", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stderr)["status"] == 403
    assert cli("site", "quota", SITE, "--clear", "--volume", STACK_VOLUME, "--project", "team").exit_code == 1
    [mine] = cli_json("site", "quota", SITE, "--project", "team")
    assert (mine["volume"], mine["quota_bytes"], mine["charged_bytes"]) == (STACK_VOLUME, 3 << 29, 1000)
    assert set(projects(cli_json("site", "volumes", SITE))) == {"team"}  # lab's row is not ada's to see
    other = cli("site", "quota", SITE, "--project", "lab", "--json")
    assert other.exit_code == 1 and json.loads(other.stderr)["status"] == 403

    monkeypatch.setenv("LAKECACHE_TOKEN", stack.token)
    removed = cli("site", "quota", SITE, "--clear", "--volume", STACK_VOLUME, "--project", "lab")
    assert removed.exit_code == 0 and "removed project lab's quota" in flat(removed.stdout)
    assert cli_json("site", "quota", SITE, "none", "--volume", STACK_VOLUME, "-p", "team")["quota_bytes"] is None
    assert projects(cli_json("site", "volumes", SITE)) == {
        "team": {"site": SITE, "volume": STACK_VOLUME, "project": "team", "quota_bytes": None,
                 "charged_bytes": 1000, "shared_bytes": 0}}


def test_bad_quota_input_is_refused_with_a_problem_never_a_500(stack):
    bad_size = cli("site", "quota", SITE, "12X", "--volume", STACK_VOLUME, "--project", "team")
    assert bad_size.exit_code == 2 and "invalid size '12X'" in flat(bad_size.stderr)
    no_volume = cli("site", "quota", SITE, "1G", "--project", "team")
    assert no_volume.exit_code == 2 and "--volume" in flat(no_volume.stderr)
    both = cli("site", "quota", SITE, "1G", "--clear", "--volume", STACK_VOLUME, "--project", "team")
    assert both.exit_code == 2

    for path, body, status in (
            (f"{QUOTA}/team", {"quota_bytes": -5}, 400), (f"{QUOTA}/team", {"quota_bytes": "1G"}, 400),
            (f"{QUOTA}/team", {"quota_bytes": 1.5}, 400), (f"{QUOTA}/team", {}, 400),
            (f"{QUOTA}/team", {"quota_bytes": 2**63}, 400), (f"{QUOTA}/team", {"quota_bytes": 1, "x": 1}, 400),
            (f"{QUOTA}/{quote('Not_A_Slug')}", {"quota_bytes": 5}, 400),
            (f"/api/v1/sites/{SITE}/volumes/nfs9/quotas/team", {"quota_bytes": 5}, 404)):
        with pytest.raises(urllib.error.HTTPError) as refused:
            gateway_call(stack.base_url, stack.token, "PUT", path, body)
        assert refused.value.code == status, (path, body)
        assert refused.value.headers["Content-Type"].startswith("application/problem+json")


def test_a_fill_over_its_quota_evicts_its_projects_idle_copies_and_leaves_other_projects_alone(stack, tmp_path):
    old_lab = json.loads(cache(tmp_path, "lab/old", OLD_LAB).stdout)["commit_id"]  # the least recently used
    old_team = json.loads(cache(tmp_path, "team/old", OLD_TEAM).stdout)["commit_id"]
    cli_json("site", "quota", SITE, "60000", "--volume", STACK_VOLUME, "--project", "team")

    result = cache(tmp_path, "team/new", NEW_TEAM)
    assert result.exit_code == 0, result.output
    new_team = json.loads(result.stdout)["commit_id"]
    wait_for(lambda: state(stack, "team", new_team) == "ready", "the new copy")
    assert state(stack, "team", old_team) == "evicted"
    assert state(stack, "lab", old_lab) == "ready"  # idle too, and older, but another project's
    shown = projects(cli_json("site", "volumes", SITE))
    assert (shown["team"]["charged_bytes"], shown["lab"]["charged_bytes"]) == (30_000, 40_000)


def test_a_fill_that_cannot_fit_because_its_projects_copies_are_pinned_fails_naming_the_quota(stack, tmp_path):
    old_team = json.loads(cache(tmp_path, "team/old", OLD_TEAM).stdout)["commit_id"]
    old_lab = json.loads(cache(tmp_path, "lab/old", OLD_LAB).stdout)["commit_id"]
    gateway_call(stack.base_url, stack.token, "PUT", f"/api/v1/projects/team/sites/{SITE}/copies/{old_team}/pin")
    cli_json("site", "quota", SITE, "60000", "--volume", STACK_VOLUME, "--project", "team")

    result = cache(tmp_path, "team/new", NEW_TEAM)
    assert result.exit_code != 0
    reason = flat(result.output)
    for part in ("project team's quota on volume nfs1 is 60000 bytes", "charged 40000", "adds 30000",
                 "10000 bytes", "pinned"):
        assert part in reason, reason
    assert state(stack, "team", old_team) == "ready" and state(stack, "lab", old_lab) == "ready"
