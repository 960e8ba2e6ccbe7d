"""Each test server answers real client calls; an unavailable server fails in CI."""

from __future__ import annotations

import uuid

import pytest

from tests.servers.fixtures import start_or_report


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def produce_and_consume(bootstrap: str, topic: str, value: bytes, *,
                              create: bool) -> bytes:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=unique("g"),
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    return record.value


@pytest.mark.kafka
@pytest.mark.timeout(180)
async def test_kafka_produce_consume_survives_restart(kafka_server):
    assert kafka_server.url == f"kafka://{kafka_server.bootstrap}"
    topic = unique("servers-smoke")
    assert await produce_and_consume(kafka_server.bootstrap, topic, b"hello",
                                     create=True) == b"hello"
    # restart() keeps ports and data: the message is still there.
    kafka_server.restart()
    assert await produce_and_consume(kafka_server.bootstrap, topic, b"hello",
                                     create=False) == b"hello"


@pytest.mark.s3
async def test_s3_put_get(s3_server):
    from aiobotocore.session import get_session

    bucket = unique("servers-smoke")
    async with get_session().create_client(
            "s3", endpoint_url=s3_server.endpoint_url, aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
            region_name=s3_server.region) as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(Bucket=bucket, Key="dir/object.bin", Body=b"lakecache")
        response = await s3.get_object(Bucket=bucket, Key="dir/object.bin")
        async with response["Body"] as body:
            assert await body.read() == b"lakecache"
    # The POSIX backend stores the object as a plain file under the root.
    assert (s3_server.root / bucket / "dir" / "object.bin").read_bytes() == b"lakecache"


@pytest.mark.mongo
async def test_mongo_insert_find(mongo_server):
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(mongo_server.url)
    try:
        collection = client[unique("smoke")]["items"]
        await collection.insert_one({"_id": "a", "size": 3})
        assert await collection.find_one({"_id": "a"}) == {"_id": "a", "size": 3}
    finally:
        await client.close()


@pytest.fixture(params=["binary", "cache"])
def broken_s3(request, monkeypatch):
    """The S3 server cannot be had: its binary points nowhere, or the cache is unusable."""
    if request.param == "binary":
        monkeypatch.setenv("LAKECACHE_VERSITYGW", "/nonexistent/versitygw")
    else:
        monkeypatch.delenv("LAKECACHE_VERSITYGW", raising=False)
        monkeypatch.setenv("LAKECACHE_TEST_CACHE", "/proc/nonexistent/cache")


def test_unavailable_server_fails_in_ci(broken_s3, monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        start_or_report("s3", tmp_path)
    assert "/nonexistent" in str(failed.value)
    assert "python -m tests.servers prepare s3" in str(failed.value)


def test_unavailable_server_skips_outside_ci(broken_s3, monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        start_or_report("s3", tmp_path)
    assert "python -m tests.servers prepare s3" in str(skipped.value)


def test_server_dying_at_start_reports_log_tail(monkeypatch, tmp_path):
    # A binary that exits at once: the error carries its output, not just a time-out.
    fake = tmp_path / "ferretdb"
    fake.write_text("#!/bin/sh\necho 'cannot open data dir' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LAKECACHE_FERRETDB", str(fake))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        start_or_report("mongo", tmp_path)
    assert "exited with code 3" in str(failed.value)
    assert "cannot open data dir" in str(failed.value)
