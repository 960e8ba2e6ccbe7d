"""Service keys, signed assertions and source grants (``lakecache.core.identity``)."""

from __future__ import annotations

import os
import shutil
import stat
import time

import jwt
import pytest

from lakecache.core.errors import ConfigurationError
from lakecache.core.identity import InvalidCredential, KeyRing, mint_assertion, verify_assertion
from lakecache.core.identity.grants import SourceGrant, mint_grant, url_within, urls_overlap, verify_grant
from lakecache.core.identity.keys import metrics_token

TARGET = "/api/v1/datasets/vision/cats?x=1"


def ring(directory, own=None):
    return KeyRing.open(directory, own, generate=True)


def mint(keys: KeyRing, **overrides) -> str:
    claims = {"audience": "catalog", "subject": "user:ada", "action": "datasets:read", "project": "vision",
              "method": "GET", "target": TARGET} | overrides
    return mint_assertion(keys.signing_key, **claims)


def check(verifier: KeyRing, token: str, **overrides):
    expected = {"audience": "catalog", "issuers": {"gateway"}, "method": "GET", "target": TARGET} | overrides
    return verify_assertion(token, verifier, **expected)


def test_a_generated_key_is_private_and_its_directory_too(tmp_path):
    keys = ring(tmp_path / "keys", "gateway")
    key_file = tmp_path / "keys" / "gateway.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert (tmp_path / "keys" / "gateway.pub").is_file()
    again = ring(tmp_path / "keys", "gateway")  # the second start reuses it
    assert again.signing_key.kid == keys.signing_key.kid


def test_a_private_key_others_can_read_is_refused(tmp_path):
    ring(tmp_path, "gateway")
    (tmp_path / "gateway.key").chmod(0o640)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        ring(tmp_path, "gateway")


def test_a_missing_key_without_generation_fails_the_start_saying_what_to_provide(tmp_path):
    with pytest.raises(ConfigurationError, match="GENERATE_KEYS"):
        KeyRing.open(tmp_path, "cacher", generate=False)


def test_a_valid_assertion_says_who_what_and_where(tmp_path):
    gateway = ring(tmp_path, "gateway")
    verifier = ring(tmp_path)
    verified = check(verifier, mint(gateway))
    assert (verified.issuer, verified.subject, verified.action, verified.project) == \
        ("gateway", "user:ada", "datasets:read", "vision")


@pytest.mark.parametrize(("change", "reason"), [
    ({"audience": "cacher"}, "another service"),
    ({"method": "POST"}, "signed for POST"),
    ({"target": "/api/v1/datasets/speech/cats?x=1"}, "signed for GET /api/v1/datasets/speech"),
    ({"target": TARGET + "&y=2"}, "not for this request"),
])
def test_an_assertion_binds_its_audience_method_and_target(tmp_path, change, reason):
    gateway, verifier = ring(tmp_path, "gateway"), ring(tmp_path)
    with pytest.raises(InvalidCredential, match=reason):
        check(verifier, mint(gateway, **change))


def test_an_expired_assertion_is_refused(tmp_path):
    gateway, verifier = ring(tmp_path, "gateway"), ring(tmp_path)
    old = mint_assertion(gateway.signing_key, audience="catalog", subject="user:ada", action="datasets:read",
                         project="vision", method="GET", target=TARGET, ttl_seconds=60, now=time.time() - 120)
    with pytest.raises(InvalidCredential, match="expired"):
        check(verifier, old)


def test_a_key_speaks_only_for_the_issuer_its_file_names(tmp_path):
    ring(tmp_path, "gateway")
    cacher = ring(tmp_path, "cacher")  # trusted as "cacher", not as "gateway"
    verifier = ring(tmp_path)
    with pytest.raises(InvalidCredential, match="'cacher', which may not call"):
        check(verifier, mint(cacher))
    # Claiming to be the gateway in the payload does not help either.
    forged = jwt.encode({"iss": "gateway", "aud": "catalog", "iat": int(time.time()), "exp": int(time.time()) + 60,
                         "jti": "x", "sub": "user:ada", "act": "datasets:read", "prj": "vision", "htm": "GET",
                         "htu": TARGET}, cacher.signing_key.private, algorithm="EdDSA",
                        headers={"kid": cacher.signing_key.kid, "typ": "lakecache-assertion+jwt"})
    with pytest.raises(InvalidCredential):
        check(verifier, forged, issuers={"gateway", "cacher"})


def test_an_unknown_key_and_other_algorithms_are_refused(tmp_path):
    gateway = ring(tmp_path / "a", "gateway")
    verifier = ring(tmp_path / "b")  # trusts nothing
    with pytest.raises(InvalidCredential, match="does not trust"):
        check(verifier, mint(gateway))
    hmac = jwt.encode({"sub": "user:ada"}, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256",
                      headers={"typ": "lakecache-assertion+jwt"})
    with pytest.raises(InvalidCredential, match="only EdDSA"):
        check(verifier, hmac)
    with pytest.raises(InvalidCredential, match="malformed"):
        check(verifier, "not-a-token")


def test_a_grant_is_not_an_assertion_and_an_assertion_not_a_grant(tmp_path):
    catalog, gateway = ring(tmp_path, "catalog"), ring(tmp_path, "gateway")
    verifier = ring(tmp_path)
    grant = mint_grant(catalog.signing_key, SourceGrant("vision", "cats", "ds-1", "c" * 64, [], "s3://lake/vision/cats"),
                       ttl_seconds=60)
    with pytest.raises(InvalidCredential, match="not a 'lakecache-assertion"):
        check(verifier, grant, issuers={"catalog"}, audience="cacher")
    with pytest.raises(InvalidCredential, match="not a 'lakecache-source-grant"):
        verify_grant(mint(gateway, audience="cacher"), verifier)


def test_a_grant_from_the_catalog_round_trips_and_one_from_elsewhere_is_refused(tmp_path):
    catalog, gateway = ring(tmp_path, "catalog"), ring(tmp_path, "gateway")
    verifier = ring(tmp_path)
    grant = SourceGrant("vision", "cats", "ds-1", "c" * 64, ["d" * 64], "s3://lake/vision/cats", ["s3://raw/vision"])
    assert verify_grant(mint_grant(catalog.signing_key, grant, ttl_seconds=60), verifier) == grant
    with pytest.raises(InvalidCredential, match="'gateway', which may not"):
        verify_grant(mint_grant(gateway.signing_key, grant, ttl_seconds=60), verifier)


def test_rotation_a_new_key_is_trusted_once_its_public_key_appears_and_a_removed_one_no_more(tmp_path):
    keys_dir, elsewhere = tmp_path / "keys", tmp_path / "next"
    old = ring(keys_dir, "gateway")
    verifier = ring(keys_dir)
    new = ring(elsewhere, "gateway")
    assert verifier.trusted(new.signing_key.kid) is None
    shutil.copy(elsewhere / "gateway.pub", keys_dir / "gateway.next.pub")
    assert verifier.should_refresh()
    verifier.refresh()
    check(verifier, mint(new))
    check(verifier, mint(old))
    (keys_dir / "gateway.pub").unlink()
    verifier.refresh()
    with pytest.raises(InvalidCredential, match="does not trust"):
        check(verifier, mint(old))


@pytest.mark.parametrize(("url", "root", "inside"), [
    ("s3://lake/vision/cats/x", "s3://lake/vision/cats", True),
    ("s3://lake/vision/cats", "s3://lake/vision/cats/", True),
    ("s3://lake/vision/catsup/x", "s3://lake/vision/cats", False),
    ("s3://lake/vision/cats/../../speech/x", "s3://lake/vision/cats", False),
    ("s3://other/vision/cats/x", "s3://lake/vision/cats", False),
    ("file:///lake/vision/cats/x", "s3://lake/vision/cats", False),
    ("s3://lake/vision/cats/x?versionId=1", "s3://lake/vision/cats", False),
    ("file:///srv/lake/vision/a%2Fb", "file:///srv/lake/vision", True),
])
def test_a_url_lies_within_a_location_by_whole_segments(url, root, inside):
    assert url_within(url, root) is inside


def test_overlapping_locations_are_told_both_ways():
    assert urls_overlap("s3://lake/vision", "s3://lake/vision/cats")
    assert urls_overlap("s3://lake/vision/cats", "s3://lake/vision")
    assert not urls_overlap("s3://lake/vision", "s3://lake/speech")


def test_the_metrics_token_is_generated_private_and_stable(tmp_path):
    token = metrics_token(tmp_path, generate=True)
    assert token and token.startswith("lcm_")
    assert stat.S_IMODE((tmp_path / "metrics-token").stat().st_mode) == 0o600
    assert metrics_token(tmp_path, generate=True) == token
    assert metrics_token(tmp_path / "none", generate=False) is None
    assert not os.path.exists(tmp_path / "none")
