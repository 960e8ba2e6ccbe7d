"""Conformance suite for the object-store port: every adapter passes the same tests.

An adapter's test module subclasses ``ObjectStoreConformance`` and provides an async fixture
``store`` that yields an opened, empty store built with ``chunk_size=CHUNK_SIZE`` and, where the
adapter has them, ``multipart_threshold=MULTIPART_THRESHOLD``, ``part_size=PART_SIZE`` and
``max_concurrency=MAX_CONCURRENCY`` — small values, so multi-chunk reads, multipart uploads and
connection leaks show up with a few MiB of data.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest

from lakecache.core.errors import InvalidArgument, NotFound, PreconditionFailed
from lakecache.core.ports.objectstore import MiB, ObjectInfo, ObjectStore

BINARY = bytes(range(256)) * 41 + b"\x00\xff\r\n"  # every byte value, odd length


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def keys_of(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key async for info in store.iter_objects(prefix)]


async def chunked(data: bytes, size: int):
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


class ObjectStoreConformance:
    CHUNK_SIZE = 1 * MiB
    MULTIPART_THRESHOLD = 5 * MiB
    PART_SIZE = 5 * MiB
    MAX_CONCURRENCY = 4
    LONGEST_KEY = 1024  # factories whose store adds a key prefix subtract its length

    # -- round trips ---------------------------------------------------------------------

    async def test_put_then_get_returns_the_same_binary_content(self, store: ObjectStore):
        info = await store.put("blobs/binary.bin", BINARY)

        assert await store.read("blobs/binary.bin") == BINARY
        assert info.key == "blobs/binary.bin"
        assert info.size == len(BINARY)

    async def test_empty_object_round_trips(self, store: ObjectStore):
        info = await store.put("empty", b"")

        async with store.get("empty") as reader:
            chunks = [chunk async for chunk in reader]
        assert chunks == []
        assert reader.content_length == 0
        assert info.size == 0
        assert (await store.head("empty")).size == 0
        assert info.etag == md5_etag(b"")

    async def test_put_accepts_async_iterables_and_file_paths(self, store: ObjectStore, tmp_path):
        source = tmp_path / "source.bin"
        source.write_bytes(BINARY * 3)

        await store.put("from-iter", chunked(BINARY, 1000))
        await store.put("from-path", source)

        assert await store.read("from-iter") == BINARY
        assert await store.read("from-path") == BINARY * 3

    async def test_put_refuses_text_and_other_non_bytes_data(self, store: ObjectStore):
        with pytest.raises(InvalidArgument):
            await store.put("text", "hello")  # type: ignore[arg-type]
        assert not await store.exists("text")

    async def test_put_result_and_head_describe_the_object(self, store: ObjectStore):
        before = datetime.now(UTC) - timedelta(minutes=5)
        put = await store.put("info/obj", BINARY)
        head = await store.head("info/obj")

        assert put.etag == head.etag == md5_etag(BINARY)
        assert head.key == "info/obj"
        assert head.size == len(BINARY)
        assert put.sha256 == sha256_hex(BINARY)
        assert head.sha256 == sha256_hex(BINARY)
        assert head.last_modified is not None
        assert head.last_modified.tzinfo is not None
        assert before <= head.last_modified <= datetime.now(UTC) + timedelta(minutes=5)

    async def test_get_and_head_of_a_missing_key_raise_not_found(self, store: ObjectStore):
        await store.put("present", b"x")

        with pytest.raises(NotFound, match="missing"):
            await store.head("missing")
        with pytest.raises(NotFound, match="missing"):
            await store.read("missing")
        assert await store.exists("missing") is False
        assert await store.exists("present") is True

    async def test_overwrite_replaces_content_and_changes_etag(self, store: ObjectStore):
        first = await store.put("doc", b"version one")
        second = await store.put("doc", b"version two!")

        assert first.etag != second.etag
        assert await store.read("doc") == b"version two!"
        assert (await store.head("doc")).etag == second.etag

    async def test_delete_removes_the_object_and_tolerates_missing_keys(self, store: ObjectStore):
        await store.put("gone", b"bye")
        await store.put("kept", b"stay")

        await store.delete("gone")
        await store.delete("gone")  # idempotent
        await store.delete("never-existed")

        with pytest.raises(NotFound):
            await store.head("gone")
        assert await keys_of(store) == ["kept"]

    async def test_unicode_keys_round_trip_and_list(self, store: ObjectStore):
        keys = ["données/日本語 ✓.bin", "données/émoji-🦀.txt", "données/plain"]
        for index, key in enumerate(keys):
            await store.put(key, f"payload {index}".encode())

        for index, key in enumerate(keys):
            assert await store.read(key) == f"payload {index}".encode()
            assert (await store.head(key)).key == key
        assert await keys_of(store, "données/") == sorted(keys, key=str.encode)

    @pytest.mark.parametrize("key", ["", "nul\x00byte", "x" * 1025, "é" * 513, "lone-\ud800"])
    async def test_invalid_keys_raise_invalid_argument(self, store: ObjectStore, key: str):
        with pytest.raises(InvalidArgument):
            await store.put(key, b"x")
        with pytest.raises(InvalidArgument):
            await store.head(key)
        with pytest.raises(InvalidArgument):
            await store.read(key)
        with pytest.raises(InvalidArgument):
            await store.delete(key)
        assert await keys_of(store) == []

    async def test_the_longest_allowed_key_works_and_one_byte_more_does_not(self, store):
        key = "/".join(["k" * 200] * 5)[: self.LONGEST_KEY - 20]
        key += "/" + "z" * (self.LONGEST_KEY - len(key.encode()) - 1)
        assert len(key.encode()) == self.LONGEST_KEY

        await store.put(key, b"long")
        with pytest.raises(InvalidArgument):
            await store.put(key + "z", b"too long")

        assert await store.read(key) == b"long"
        assert await keys_of(store) == [key]

    async def test_concurrent_puts_of_different_keys_all_land(self, store: ObjectStore):
        payloads = {f"batch/{n:02d}": os.urandom(1000 + n) for n in range(24)}

        infos = await asyncio.gather(*(store.put(k, v) for k, v in payloads.items()))

        assert [info.etag for info in infos] == [md5_etag(v) for v in payloads.values()]
        assert await keys_of(store, "batch/") == sorted(payloads)
        for key, payload in payloads.items():
            assert await store.read(key) == payload

    # -- listing -------------------------------------------------------------------------

    async def test_list_filters_by_prefix_in_utf8_byte_order(self, store: ObjectStore):
        for key in ["data/z", "data/é", "data/B", "data/a/x", "data/a-c", "data0/x", "dat"]:
            await store.put(key, key.encode())

        page = await store.list("data/")

        expected = ["data/B", "data/a-c", "data/a/x", "data/z", "data/é"]
        assert [o.key for o in page.objects] == expected
        assert page.next_token is None
        assert all(isinstance(o, ObjectInfo) for o in page.objects)
        assert {o.key: o.size for o in page.objects}["data/a/x"] == len(b"data/a/x")
        assert {o.key: o.etag for o in page.objects}["data/z"] == md5_etag(b"data/z")

    async def test_list_paginates_with_a_small_limit(self, store: ObjectStore):
        keys = [f"p/{n}" for n in range(7)]
        for key in keys:
            await store.put(key, b"x")

        seen, token, pages = [], None, 0
        while True:
            page = await store.list("p/", token=token, limit=3)
            assert len(page.objects) <= 3
            seen += [o.key for o in page.objects]
            pages += 1
            token = page.next_token
            if token is None:
                break
        assert seen == keys
        assert pages >= 3
        rest = await store.list("p/", start_after="p/4")
        assert [o.key for o in rest.objects] == ["p/5", "p/6"]
        assert await keys_of(store) == keys

    async def test_list_of_an_empty_prefix_match_is_empty(self, store: ObjectStore):
        await store.put("a", b"x")

        page = await store.list("nothing/")

        assert page.objects == ()
        assert page.next_token is None

    @pytest.mark.parametrize("limit", [0, -1, 1001])
    async def test_list_limit_out_of_range_raises_invalid_argument(self, store, limit):
        with pytest.raises(InvalidArgument):
            await store.list(limit=limit)

    async def test_a_key_and_a_key_below_it_coexist(self, store: ObjectStore):
        await store.put("a", b"file a")
        await store.put("a/b", b"file a/b")

        assert await store.read("a") == b"file a"
        assert await store.read("a/b") == b"file a/b"
        assert await keys_of(store) == ["a", "a/b"]

    # -- streaming and ranges ------------------------------------------------------------

    async def test_get_streams_large_objects_in_full_chunks(self, store: ObjectStore):
        data = os.urandom(self.CHUNK_SIZE * 2 + self.CHUNK_SIZE // 2)
        await store.put("big", data)

        async with store.get("big") as reader:
            chunks = [bytes(chunk) async for chunk in reader]

        assert [len(c) for c in chunks] == [self.CHUNK_SIZE, self.CHUNK_SIZE, self.CHUNK_SIZE // 2]
        assert b"".join(chunks) == data
        assert reader.info.size == len(data)
        assert reader.range == (0, len(data) - 1)

    async def test_ranged_get_returns_exactly_the_requested_bytes(self, store: ObjectStore):
        await store.put("r", BINARY)
        last = len(BINARY) - 1

        assert await store.read("r", range=(0, 0)) == BINARY[:1]
        assert await store.read("r", range=(100, 355)) == BINARY[100:356]
        assert await store.read("r", range=(last, last)) == BINARY[-1:]
        assert await store.read("r", range=(last - 1, last + 1000)) == BINARY[-2:]
        async with store.get("r", range=(10, 19)) as reader:
            assert reader.range == (10, 19)
            assert reader.content_length == 10
            assert reader.info.size == len(BINARY)
            assert await reader.read_all() == BINARY[10:20]

    @pytest.mark.parametrize("bad", [(5, 2), (-1, 3), (10_500, 10_600), (1, "2")])
    async def test_invalid_ranges_raise_invalid_argument(self, store: ObjectStore, bad):
        await store.put("r", BINARY)

        with pytest.raises(InvalidArgument):
            await store.read("r", range=bad)

    async def test_any_range_of_an_empty_object_is_invalid(self, store: ObjectStore):
        await store.put("empty", b"")

        with pytest.raises(InvalidArgument):
            await store.read("empty", range=(0, 0))

    async def test_abandoned_reads_release_their_connection(self, store: ObjectStore):
        # Big enough that the rest cannot sit in socket buffers: an unclosed body pins its
        # connection, and the pool (MAX_CONCURRENCY) runs dry.
        data = os.urandom(24 * MiB)
        await store.put("big", data)

        held = []  # callers may keep readers and iterators around; that must not pin connections

        async def read_first_chunk_and_leave() -> bytes:
            async with store.get("big") as reader:
                chunks = aiter(reader)
                held.append((reader, chunks))
                return bytes(await anext(chunks))

        for _ in range(self.MAX_CONCURRENCY * 3):
            first = await asyncio.wait_for(read_first_chunk_and_leave(), timeout=20)
            assert first == data[: self.CHUNK_SIZE]

    # -- read_into -----------------------------------------------------------------------

    async def read_into(self, store: ObjectStore, key: str, **options) -> tuple[bytes, int, list[int]]:
        received = bytearray()
        offsets: list[int] = []

        def sink(chunk: memoryview, offset: int) -> None:
            offsets.append(offset)
            assert offset == len(received), "chunks arrive in offset order, one at a time"
            received.extend(chunk)

        count = await store.read_into(key, sink, **options)
        return bytes(received), count, offsets

    async def test_read_into_delivers_the_object_and_ranges_in_order(self, store: ObjectStore):
        data = os.urandom(self.CHUNK_SIZE * 3 + 17)
        await store.put("into", data)
        await store.put("into-empty", b"")

        whole, count, offsets = await self.read_into(store, "into")
        assert (whole, count) == (data, len(data))
        assert offsets[0] == 0
        part, count, _ = await self.read_into(store, "into", range=(5, self.CHUNK_SIZE + 9))
        assert (part, count) == (data[5 : self.CHUNK_SIZE + 10], self.CHUNK_SIZE + 5)
        tail, count, _ = await self.read_into(store, "into", range=(len(data) - 3, len(data) + 100))
        assert (tail, count) == (data[-3:], 3)
        assert await self.read_into(store, "into-empty") == (b"", 0, [])

    async def test_read_into_raises_the_ports_errors(self, store: ObjectStore):
        info = await store.put("into", BINARY)

        with pytest.raises(NotFound):
            await self.read_into(store, "missing")
        with pytest.raises(PreconditionFailed):
            await self.read_into(store, "into", if_match=md5_etag(b"other"))
        with pytest.raises(InvalidArgument):
            await self.read_into(store, "into", range=(len(BINARY) + 10, len(BINARY) + 20))
        assert (await self.read_into(store, "into", range=(0, 9), if_match=info.etag))[0] == BINARY[:10]

    async def test_a_failing_sink_stops_read_into_with_its_own_error(self, store: ObjectStore):
        await store.put("into", os.urandom(self.CHUNK_SIZE * 4))
        calls = 0

        def sink(chunk: memoryview, offset: int) -> None:
            nonlocal calls
            calls += 1
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space left"):
            await store.read_into("into", sink)
        assert calls == 1  # the first failure ends the transfer
        assert await store.read("into", range=(0, 0))  # and the store still serves reads

    async def test_a_cancelled_read_into_calls_its_sink_no_more(self, store: ObjectStore):
        await store.put("into", os.urandom(16 * MiB))
        calls: list[int] = []
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        def sink(chunk: memoryview, offset: int) -> None:
            calls.append(offset)
            loop.call_soon_threadsafe(started.set)

        task = asyncio.create_task(store.read_into("into", sink))
        await asyncio.wait_for(started.wait(), timeout=20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = len(calls)
        await asyncio.sleep(0.2)  # a sink call after cancellation returned would land here
        assert len(calls) == seen

    async def test_read_into_in_parts_delivers_the_object_and_ranges_in_order(self, store: ObjectStore):
        data = os.urandom(3 * MiB + 12345)
        info = await store.put("parts", data)

        whole, count, offsets = await self.read_into(store, "parts", if_match=info.etag, part_size=MiB)
        assert (whole, count) == (data, len(data))
        assert offsets == sorted(offsets) and offsets[0] == 0
        middle, count, _ = await self.read_into(store, "parts", range=(MiB - 7, 3 * MiB), part_size=MiB)
        assert (middle, count) == (data[MiB - 7 : 3 * MiB + 1], 2 * MiB + 8)
        # A range past the end is clamped, as without parts: the fill asks for size + 1 bytes.
        tail, count, _ = await self.read_into(store, "parts", range=(0, len(data)), part_size=MiB)
        assert (tail, count) == (data, len(data))

    async def test_read_into_in_parts_stops_at_the_range_of_a_larger_object(self, store: ObjectStore):
        data = os.urandom(4 * MiB)
        await store.put("parts", data)

        head, count, _ = await self.read_into(store, "parts", range=(0, MiB), part_size=MiB)
        assert (head, count) == (data[: MiB + 1], MiB + 1)  # not the whole object

    async def test_read_into_in_parts_raises_the_ports_errors(self, store: ObjectStore):
        await store.put("parts", os.urandom(2 * MiB + 1))

        with pytest.raises(NotFound):
            await self.read_into(store, "missing", part_size=MiB)
        with pytest.raises(PreconditionFailed):
            await self.read_into(store, "parts", if_match=md5_etag(b"other"), part_size=MiB)

    # -- multipart -----------------------------------------------------------------------

    async def test_large_puts_round_trip_from_every_data_form(self, store: ObjectStore, tmp_path):
        data = os.urandom(self.PART_SIZE * 2 + 12345)
        source = tmp_path / "large.bin"
        source.write_bytes(data)

        results = [
            await store.put("large/bytes", data),
            await store.put("large/iter", chunked(data, 777_777)),
            await store.put("large/path", source, sha256=sha256_hex(data)),
        ]

        for info in results:
            assert info.size == len(data)
            assert info.sha256 == sha256_hex(data)
            assert await store.read(info.key) == data
            head = await store.head(info.key)
            assert head.size == len(data)
            assert head.etag == info.etag
            assert head.sha256 in (sha256_hex(data), None)  # multipart S3 keeps no full sha256
        assert await store.read("large/iter", range=(self.PART_SIZE - 2, self.PART_SIZE + 1)) == (
            data[self.PART_SIZE - 2 : self.PART_SIZE + 2]
        )

    @pytest.mark.parametrize("size", [100, PART_SIZE * 2 + 1])
    async def test_put_with_a_wrong_sha256_writes_nothing(self, store: ObjectStore, size):
        data = os.urandom(size)

        with pytest.raises(InvalidArgument, match="sha256|SHA256"):
            await store.put("checked", data, sha256=sha256_hex(b"something else"))

        assert not await store.exists("checked")
        info = await store.put("checked", data, sha256=sha256_hex(data))
        assert info.sha256 == sha256_hex(data)

    # -- conditions ----------------------------------------------------------------------

    async def test_reads_with_if_match_need_the_current_etag(self, store: ObjectStore):
        info = await store.put("c", BINARY)
        unquoted = info.etag.strip('"')

        assert (await store.head("c", if_match=info.etag)).etag == info.etag
        assert await store.read("c", if_match=info.etag) == BINARY
        assert await store.read("c", range=(0, 9), if_match=unquoted) == BINARY[:10]
        with pytest.raises(PreconditionFailed):
            await store.head("c", if_match=md5_etag(b"other"))
        with pytest.raises(PreconditionFailed):
            await store.read("c", if_match=md5_etag(b"other"))
        with pytest.raises(PreconditionFailed):
            await store.read("c", range=(0, 9), if_match=md5_etag(b"other"))
        with pytest.raises(NotFound):
            await store.head("missing", if_match=info.etag)

    async def test_put_with_if_match_replaces_only_the_expected_version(self, store: ObjectStore):
        first = await store.put("c", b"one")

        second = await store.put("c", b"two", if_match=first.etag)
        with pytest.raises(PreconditionFailed):
            await store.put("c", b"three", if_match=first.etag)
        with pytest.raises(PreconditionFailed):
            await store.put("missing", b"x", if_match=first.etag)

        assert await store.read("c") == b"two"
        assert (await store.head("c")).etag == second.etag
        assert not await store.exists("missing")

    async def test_put_with_if_none_match_creates_only_new_keys(self, store: ObjectStore):
        created = await store.put("once", b"first", if_none_match=True)

        with pytest.raises(PreconditionFailed):
            await store.put("once", b"second", if_none_match=True)
        with pytest.raises(PreconditionFailed):
            await store.put("once", os.urandom(self.PART_SIZE * 2 + 1), if_none_match=True)

        assert await store.read("once") == b"first"
        assert (await store.head("once")).etag == created.etag

    async def test_large_put_with_if_match_uses_the_condition(self, store: ObjectStore):
        first = await store.put("big", b"small first")
        data = os.urandom(self.PART_SIZE * 2 + 1)

        with pytest.raises(PreconditionFailed):
            await store.put("big", data, if_match=md5_etag(b"other"))
        assert await store.read("big") == b"small first"
        await store.put("big", data, if_match=first.etag)
        assert await store.read("big") == data

    async def test_put_refuses_both_conditions_at_once(self, store: ObjectStore):
        with pytest.raises(InvalidArgument):
            await store.put("c", b"x", if_match='"abc"', if_none_match=True)
        assert not await store.exists("c")

    async def test_delete_with_if_match_removes_only_the_expected_version(self, store):
        old = await store.put("c", b"one")
        new = await store.put("c", b"two")

        with pytest.raises(PreconditionFailed):
            await store.delete("c", if_match=old.etag)
        assert await store.read("c") == b"two"
        await store.delete("c", if_match=new.etag)
        assert not await store.exists("c")
        await store.delete("c", if_match=new.etag)  # already gone: success

    async def test_url_names_the_store(self, store: ObjectStore):
        assert store.url.split("://")[0] in ("file", "s3")
        assert "secret" not in store.url

    # -- presigned uploads ---------------------------------------------------------------

    #: Whether the adapter hands out upload URLs (S3); the others must answer None.
    PRESIGNS = False

    @pytest.mark.parametrize("bad", [
        {"sha256": "0" * 63}, {"sha256": "A" * 64}, {"size": -1}, {"size": 5 * 1024**3 + 1},
        {"expires_seconds": 0}, {"expires_seconds": 7 * 86400 + 1}, {"key": "a\x00b"},
    ])
    async def test_presign_put_refuses_bad_arguments(self, store: ObjectStore, bad):
        args = {"key": "up/x", "sha256": sha256_hex(b"x"), "size": 1, "expires_seconds": 60, **bad}
        key = args.pop("key")

        with pytest.raises(InvalidArgument):
            await store.presign_put(key, **args)

    async def test_presign_put_is_offered_only_by_stores_that_can(self, store: ObjectStore):
        presigned = await store.presign_put("up/x", sha256=sha256_hex(b"x"), size=1, expires_seconds=60)

        if not self.PRESIGNS:
            assert presigned is None
            return
        assert presigned is not None and presigned.url.startswith(("http://", "https://"))
        assert presigned.headers["Content-Length"] == "1"
        lifetime = presigned.expires_at - datetime.now(UTC)
        assert timedelta(seconds=50) < lifetime <= timedelta(seconds=60)
        assert not await store.exists("up/x"), "presigning writes nothing"


class PresignedUploadConformance:
    """What an upload URL a store hands out must hold, for the stores that presign (``PRESIGNS``):
    run by their test classes besides ``ObjectStoreConformance``. The others must answer
    ``presign_put`` with None (checked by ``ObjectStoreConformance``)."""

    async def _presigned_put(self, store: ObjectStore, key: str, declared: bytes, body: bytes,
                             **header_changes: str) -> int:
        import aiohttp

        presigned = await store.presign_put(key, sha256=sha256_hex(declared), size=len(declared), expires_seconds=60)
        assert presigned is not None
        headers = {**presigned.headers, **header_changes}
        async with aiohttp.ClientSession() as http, http.put(presigned.url, data=body, headers=headers) as answer:
            return answer.status

    async def test_a_presigned_put_stores_exactly_the_declared_content(self, store: ObjectStore):
        status = await self._presigned_put(store, "up/ok", BINARY, BINARY)

        assert status == 200
        assert await store.read("up/ok") == BINARY
        assert (await store.head("up/ok")).sha256 in (sha256_hex(BINARY), None)

    async def test_a_presigned_put_refuses_other_bytes_of_the_same_size(self, store: ObjectStore):
        other = bytes(reversed(BINARY))

        status = await self._presigned_put(store, "up/forged", BINARY, other)

        assert 400 <= status < 500
        assert not await store.exists("up/forged")

    async def test_a_presigned_put_refuses_a_changed_checksum_or_length(self, store: ObjectStore):
        other = b"other content"
        forged = base64.b64encode(hashlib.sha256(other).digest()).decode()

        assert 400 <= await self._presigned_put(store, "up/a", BINARY, other, **{
            "x-amz-checksum-sha256": forged, "Content-Length": str(len(other))}) < 500
        assert 400 <= await self._presigned_put(store, "up/b", BINARY, BINARY[:-1], **{
            "Content-Length": str(len(BINARY) - 1)}) < 500
        assert not await store.exists("up/a") and not await store.exists("up/b")
