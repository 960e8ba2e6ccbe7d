"""The lean GET signer must produce exactly the URL botocore's own S3 presigner produces."""

from __future__ import annotations

import datetime
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiobotocore.credentials import AioCredentials
from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lakecache.core.adapters.objects.s3_signing import GetSigner

FIXED = datetime.datetime(2026, 11, 28, 23, 30, 5)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(auth, "get_current_datetime", lambda: FIXED)
    monkeypatch.setattr(time, "gmtime", lambda *args: FIXED.timetuple())


@pytest.mark.parametrize("base", ["http://127.0.0.1:7070/bucket", "https://bucket.s3.eu-west-3.amazonaws.com"])
@pytest.mark.parametrize("key", ["plain/key.bin", "données/日本語 ✓.bin", "a+b=c&d/~tilde/%25/sp ace", "x//y"])
@pytest.mark.parametrize("token", [None, "session/token+="])
async def test_signed_url_equals_botocores_presigned_url(frozen_clock, base, key, token):
    signer = GetSigner(base, "eu-west-3", AioCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token))

    ours = await signer.url(key, 3600)

    request = AWSRequest(method="GET", url=f"{base}/{quote(key, safe='/~')}")
    auth.S3SigV4QueryAuth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token), "s3", "eu-west-3",
                          expires=3600).add_auth(request)
    # Same endpoint, path and parameters (signature included); parameter order is free.
    mine, theirs = urlsplit(ours), urlsplit(request.url)
    assert mine._replace(query="") == theirs._replace(query="")
    assert parse_qs(mine.query, strict_parsing=True) == parse_qs(theirs.query, strict_parsing=True)


async def test_a_new_day_or_new_secret_gets_a_new_signing_key(frozen_clock, monkeypatch):
    credentials = AioCredentials("AKID", "first-secret")
    signer = GetSigner("http://h/b", "us-east-1", credentials)
    first = await signer.url("k", 60)
    credentials.secret_key = "rotated-secret"
    assert await signer.url("k", 60) != first
    monkeypatch.setattr(time, "gmtime", lambda *args: (FIXED + datetime.timedelta(days=1)).timetuple())
    assert "20261129" in await signer.url("k", 60)
