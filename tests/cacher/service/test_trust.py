"""What a cache command may make the cacher read: only what the catalog's grant allows, inside
the lake roots, with a manifest that is the commit's. Each test plays an attacker who can put
commands on the bus or commits in the lake."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lakecache.core.contracts.cache import CacheFailed, CacheReady
from lakecache.core.identity import KeyRing
from lakecache.core.identity.grants import SourceGrant, mint_grant
from lakecache.core.layout import content_key, join_url
from tests.cacher.helpers import build_manifest, entry_of, make_commit, tree_of
from tests.cacher.service.conftest import cacher_settings, copy_path, running_cacher
from tests.support.identity import gateway_keys
from tests.support.waiting import eventually

FILES = {"a.bin": os.urandom(20_000), "b.txt": b"bee\n"}


async def refusal(api, rid: str) -> CacheFailed:
    await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
    failed = api.of(CacheFailed, rid)[0].data
    assert failed.retryable is False
    return failed


async def assert_nothing_recorded(api, commit: str) -> None:
    assert api.gets() == 0, "the lake was read"
    assert (await api.call("GET", copy_path(commit))).status == 404
    assert api.of(CacheReady) == []


def foreign_grant(ring: KeyRing, commit: str, location: str) -> str:
    grant = SourceGrant(project="team", dataset="ds", dataset_id="id-ds", commit_id=commit, parents=[],
                        location=location)
    return mint_grant(ring.signing_key, grant, ttl_seconds=600)


async def test_a_command_without_a_grant_is_refused_before_anything_is_read(api):
    commit = await api.commit(FILES)
    rid = await api.request(commit, grant=None)
    assert "no source grant" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


@pytest.mark.parametrize("claim", ["project", "dataset", "commit"])
async def test_a_grant_for_another_project_dataset_or_commit_is_refused(api, claim):
    commit = await api.commit(FILES)
    other = await api.commit({"other.txt": b"other"}, project="secret")
    grant = {"project": api.grant(commit, project="secret", location=api.dataset_url("secret", "ds")),
             "dataset": api.grant(commit, dataset="ds2", dataset_id="id-ds"),
             "commit": api.grant(other)}[claim]
    rid = await api.request(commit, grant=grant)
    assert "its grant is for" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


async def test_a_grant_signed_by_a_key_the_cacher_does_not_trust_is_refused(api, tmp_path):
    commit = await api.commit(FILES)
    stranger = KeyRing.open(tmp_path / "elsewhere", "catalog", generate=True)  # same issuer name, unknown key
    rid = await api.request(commit, grant=foreign_grant(stranger, commit, api.dataset_url()))
    assert "grant is not valid" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


async def test_a_grant_signed_by_another_trusted_service_is_refused(api):
    commit = await api.commit(FILES)
    gateway = gateway_keys(api.home)  # trusted for assertions, never for grants: only the catalog grants
    rid = await api.request(commit, grant=foreign_grant(gateway, commit, api.dataset_url()))
    assert "grant is not valid" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


async def test_an_expired_grant_is_refused(api):
    commit = await api.commit(FILES)
    rid = await api.request(commit, grant=api.grant(commit, ttl_seconds=-3600))
    assert "grant is not valid" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


async def test_a_dataset_location_outside_the_lake_roots_is_refused(api, tmp_path):
    other_lake = (tmp_path / "other-lake").as_uri()
    commit, _ = await make_commit(join_url(other_lake, "team", "ds"), FILES)
    rid = await api.request(commit, grant=api.grant(commit, location=join_url(other_lake, "team", "ds")))
    assert "outside the lake roots" in (await refusal(api, rid)).reason
    await assert_nothing_recorded(api, commit)


async def test_an_entry_pointing_into_another_projects_location_fails_without_reading_it(api, volume):
    secret = {"plans.txt": b"the other project's secret plans"}
    await api.commit(secret, project="secret")
    sha = hashlib.sha256(secret["plans.txt"]).hexdigest()
    stolen = join_url(api.dataset_url("secret", "ds"), content_key(sha))
    commit, manifest = build_manifest([entry_of("plans.txt", secret["plans.txt"], object_url=stolen)])
    await api.commit({}, manifest=manifest, commit_id=commit)

    rid = await api.request(commit)
    failed = await refusal(api, rid)
    assert "outside dataset team/ds's location" in failed.reason and failed.failed_paths == ["plans.txt"]
    assert api.gets("_lakecache/objects/") == 0
    assert not (volume / "team" / "ds" / commit).exists()
    assert (await api.copy(commit))["state"] == "failed"


async def test_an_import_outside_the_lake_roots_is_refused_even_when_the_grant_allows_it(api, tmp_path, volume):
    other_lake = (tmp_path / "other-lake").as_uri()
    data = b"imported from a lake this cacher may not read"
    await make_commit(join_url(other_lake, "imports"), {"x": data})
    url = join_url(other_lake, "imports", content_key(hashlib.sha256(data).hexdigest()))
    commit, manifest = build_manifest([entry_of("x", data, object_url=url)])
    await api.commit({}, manifest=manifest, commit_id=commit)

    rid = await api.request(commit, grant=api.grant(commit, imports=[join_url(other_lake, "imports")]))
    failed = await refusal(api, rid)
    assert "outside the lake roots" in failed.reason and failed.failed_paths == ["x"]
    assert api.gets("_lakecache/objects/") == 0
    assert not (volume / "team" / "ds" / commit).exists()


def entries(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files}


async def test_a_root_only_file_outside_any_lake_is_never_opened_and_nothing_is_created_near_it(tmp_path):
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    secret = outside / "private" / "shadow"
    real = os.urandom(12_345)
    secret.write_bytes(real)
    secret.chmod(0o600)
    before = entries(outside)
    volume = tmp_path / "nfs1"
    volume.mkdir()
    home = tmp_path / "home"
    # An operator registered the directory as an import location and a lake root: still no lake.
    settings = cacher_settings(home, volume, lake_roots=[(home / "lake").as_uri(), outside.as_uri()])
    async with running_cacher(settings) as api:
        claimed = b"x" * 10  # the editor does not know the file: size and hash are made up
        commit, manifest = build_manifest([entry_of("shadow", claimed, object_url=secret.as_uri())])
        await api.commit({}, manifest=manifest, commit_id=commit)
        rid = await api.request(commit, grant=api.grant(commit, imports=[outside.as_uri()]))
        failed = await refusal(api, rid)

    assert "not inside a local lake" in failed.reason and failed.failed_paths == ["shadow"]
    assert hashlib.sha256(real).hexdigest() not in failed.reason and "12345" not in failed.reason
    assert entries(outside) == before, "the cacher created something in a source location"
    assert not (volume / "team" / "ds" / commit).exists()


async def test_a_dataset_location_in_no_lake_fails_clearly_and_is_left_untouched(tmp_path):
    plain = tmp_path / "plain"
    (plain / "team" / "ds").mkdir(parents=True)
    volume = tmp_path / "nfs1"
    volume.mkdir()
    home = tmp_path / "home"
    settings = cacher_settings(home, volume, lake_roots=[(home / "lake").as_uri(), plain.as_uri()])
    async with running_cacher(settings) as api:
        commit = await api.commit(FILES)
        location = (plain / "team" / "ds").as_uri()
        rid = await api.request(commit, grant=api.grant(commit, location=location))
        failed = await refusal(api, rid)
        assert (await api.copy(commit))["state"] == "failed"

    assert "not in a local lake" in failed.reason
    assert entries(plain) == {"team", "team/ds"}


async def test_a_manifest_overwritten_in_the_lake_after_the_commit_is_refused_by_name(api, volume):
    commit = await api.commit(FILES)
    _, other_manifest = build_manifest([entry_of("a.bin", b"something else entirely")])
    await api.commit({}, manifest=other_manifest, commit_id=commit)  # same key, other entries

    rid = await api.request(commit)
    failed = await refusal(api, rid)
    assert f"manifest of commit {commit}" in failed.reason and "does not match" in failed.reason
    assert api.gets("_lakecache/objects/") == 0
    assert not (volume / "team" / "ds" / commit).exists()


async def test_a_manifest_with_other_parents_than_the_grant_is_refused(api):
    commit = await api.commit(FILES)
    rid = await api.request(commit, grant=api.grant(commit, parents=["f" * 64]))
    assert "does not match the commit's id" in (await refusal(api, rid)).reason
    assert api.gets("_lakecache/objects/") == 0


async def test_a_granted_import_inside_the_lake_roots_is_read(api, volume):
    data = b"shared raw data"
    await make_commit(join_url(api.lake_url, "imports", "raw"), {"raw.bin": data})
    url = join_url(api.lake_url, "imports", "raw", content_key(hashlib.sha256(data).hexdigest()))
    commit, manifest = build_manifest([entry_of("raw.bin", data, object_url=url)])
    await api.commit({}, manifest=manifest, commit_id=commit)

    rid = await api.request(commit, grant=api.grant(commit, imports=[join_url(api.lake_url, "imports", "raw")]))
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    assert tree_of(volume / "team" / "ds" / commit) == {"raw.bin": data}
