"""``CopyLease`` names the project whose copy it leases: the argument, else the job token's
project, else ``LAKECACHE_PROJECT`` for a user token. Another project's copy of the same commit
is another copy, so the project decides which copy is protected."""

from __future__ import annotations

import urllib.error
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from lakecache.sdk.gateway import GatewayClient, GatewayForbidden, GatewayNotFound
from lakecache.sdk.leases import CopyLease
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_SITE, create_user, gateway_call, started_run
from tests.support.waiting import eventually

FILES = {"train/0.bin": b"zero", "train/1.bin": b"one"}


async def cached_copy(stack, settings: ClientSettings, tmp_path, project: str) -> str:
    """``project/ds`` synced from ``FILES`` and cached at the site; the commit id."""
    async with GatewayClient(settings) as catalog:
        await catalog.create_dataset(project, "ds")
        commit = (await sync_directory(catalog, DatasetRef(project, "ds"), write_tree(tmp_path / project, FILES),
                                       message="first")).commit
    gateway_call(stack.base_url, settings.bearer_token(), "POST", "/api/v1/caches",
                 {"project": project, "dataset": "ds", "site": STACK_SITE})
    path = f"/api/v1/projects/{project}/sites/{STACK_SITE}/copies/{commit['id']}"
    await eventually(lambda: gateway_call(stack.base_url, settings.bearer_token(), "GET", path)["state"] == "ready",
                     message=f"{project}'s copy to be ready")
    return commit["id"]


def eviction_view(stack, project: str, commit_id: str) -> dict:
    """The evictor's view of the project's copy; empty until it has seen the copy ready."""
    try:
        return gateway_call(stack.base_url, stack.token, "GET",
                            f"/api/v1/projects/{project}/sites/{STACK_SITE}/copies/{commit_id}/eviction")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise


def leases_of(stack, project: str, commit_id: str) -> list[str] | None:
    """Holders of the live leases on the project's copy (None while the evictor does not know it)."""
    found = eviction_view(stack, project, commit_id)
    return [lease["holder"] for lease in found["live_leases"]] if found else None


async def test_the_lease_protects_the_named_project_copy_only(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    await cached_copy(stack, client_settings.model_copy(update={"token": SecretStr(stack.token)}), tmp_path, "other")

    for project in ("team", "other"):
        await eventually(lambda p=project: leases_of(stack, p, commit_id) == [],
                         message=f"the evictor to see {project}'s copy, unleased")
    async with CopyLease(STACK_SITE, commit_id, project="team", settings=client_settings, holder="job-1") as copy:
        assert (copy.project, copy.commit_id) == ("team", commit_id)
        assert {str(p.relative_to(copy.path)): p.read_bytes() for p in copy.path.rglob("*") if p.is_file()} == FILES
        await eventually(lambda: leases_of(stack, "team", commit_id) == ["job-1"], message="the evictor to see it")
        assert leases_of(stack, "other", commit_id) == []  # the same commit, another project: another copy
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the release")


async def test_a_job_token_leases_in_its_own_project_without_naming_it(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    run_id = started_run(stack.base_url, client_settings.bearer_token(), "team")
    job = gateway_call(stack.base_url, client_settings.bearer_token(), "POST",
                       f"/api/v1/projects/team/runs/{run_id}/job-tokens", {"expires_at": expires})
    settings = client_settings.model_copy(update={"token": SecretStr(job["token"]), "project": "default"})
    async with CopyLease(STACK_SITE, commit_id, settings=settings) as copy:
        assert copy.project == "team"


async def test_a_user_token_leases_in_lakecache_project(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    async with CopyLease(STACK_SITE, commit_id, settings=client_settings.model_copy(update={"project": "team"})
                         ) as copy:
        assert copy.project == "team"
    # LAKECACHE_PROJECT 'default': ada has no role there
    with pytest.raises((GatewayForbidden, GatewayNotFound)) as refused:
        async with CopyLease(STACK_SITE, commit_id, settings=client_settings):
            pass
    assert refused.value.status in (403, 404)


async def test_a_user_without_a_role_cannot_lease_a_project_copy(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    stranger = create_user(stack.base_url, stack.token, "eve", {"elsewhere": "editor"})
    settings = client_settings.model_copy(update={"token": SecretStr(stranger)})
    with pytest.raises(GatewayForbidden) as refused:
        async with CopyLease(STACK_SITE, commit_id, project="team", settings=settings):
            pass
    assert refused.value.status == 403
