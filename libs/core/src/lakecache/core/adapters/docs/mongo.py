"""The document-store port on MongoDB (and FerretDB) through PyMongo's ``AsyncMongoClient``.

URL: any ``mongodb://`` URL; the database is the URL path (``mongodb://h:27017/lakecache``),
else the ``database=`` option, else ``"lakecache"``. Other keyword options go to
``AsyncMongoClient`` (e.g. ``serverSelectionTimeoutMS=2000``). The client is created and
connected in ``async with``, never at construction.

Everything is validated against the subset (``subset.py``, shared with the SQLite store)
before it is sent, so the server sees only operations FerretDB v1.24 implements. Where
FerretDB lacks a piece of the port, this adapter fills it in and says so at the spot:
string ids for upserted documents, projection for ``find_one_and_update``, negations on
dotted paths, and — most important — atomicity:

FerretDB v1.24 on SQLite runs an update as read, modify, write without a transaction, so two
concurrent ``find_one_and_update`` calls with the same compare-and-swap filter can both
"win" and two concurrent ``$inc`` can lose one increment (measured: up to 20 winners of 20).
When the server is FerretDB (``buildInfo`` has ``ferretdbVersion``) this adapter therefore
serialises its read-modify-write operations (updates, replaces, find-and-modify) through one
lock per store. That restores the port's guarantee among the tasks of one process, which is
how FerretDB is used here (tests, development); it cannot protect against a second process
writing to the same FerretDB. Option ``serialize_writes=True/False`` overrides the detection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.errors import PyMongoError

from lakecache.core.errors import ConfigurationError, Conflict, InvalidArgument
from lakecache.core.ports.docstore import (
    Collection,
    Document,
    DocumentStore,
    Filter,
    IndexKeys,
    Pipeline,
    Projection,
    Sort,
    Update,
    UpdateResult,
)

from .mongo_compat import has_id_equality, new_id, portable_filter, translate_errors, with_generated_id
from .projection import project
from .subset import (
    check_filter,
    check_index_keys,
    check_pipeline,
    check_projection,
    check_sort,
    check_update,
    check_window,
    upsert_seed,
)
from .values import check_collection_name, check_document

_BATCH_SIZE = 256


class MongoDocumentStore(DocumentStore):
    """The document-store port on a MongoDB-protocol server; see the module docstring."""

    def __init__(self, url: str, *, database: str = "lakecache", serialize_writes: bool | None = None,
                 **client_options: Any) -> None:
        self.url = url
        self.database_name = database
        self.serialize_writes = serialize_writes
        self._client_options = client_options
        self._write_lock: asyncio.Lock | None = None
        self._client: AsyncMongoClient | None = None
        self._db: Any = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``mongodb://host[:port][,host…]/[database][?options]``; no I/O."""
        parts = urlsplit(url)
        if parts.scheme != "mongodb" or not parts.netloc:
            raise ConfigurationError(
                f"invalid MongoDB URL {url!r}: use mongodb://host:port/[database][?options]"
            )
        database = options.pop("database", None) or parts.path.lstrip("/") or "lakecache"
        if "/" in database or "." in database or " " in database or len(database) > 63:
            raise ConfigurationError(
                f"invalid MongoDB database name {database!r} (from the URL path or database=): "
                "use up to 63 characters without '/', '.' or spaces"
            )
        return cls(url, database=database, **options)

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise RuntimeError("this MongoDocumentStore is already open")
        options = {"tz_aware": True, "tzinfo": UTC, **self._client_options}
        try:
            self._client = AsyncMongoClient(self.url, **options)
        except (TypeError, ValueError, PyMongoError) as exc:
            raise ConfigurationError(f"cannot use MongoDB URL/options for {self.url!r}: {exc}") from exc
        self._db = self._client[self.database_name]
        try:
            await self.ping()
            serialize = self.serialize_writes
            if serialize is None:
                with translate_errors("buildInfo"):
                    info = await self._client.admin.command("buildInfo")
                serialize = "ferretdbVersion" in info
            self._write_lock = asyncio.Lock() if serialize else None
        except BaseException:
            await self._client.close()
            self._client = None
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._db = None

    def _database(self) -> Any:
        if self._db is None:
            raise RuntimeError("the document store is not open; use `async with store:`")
        return self._db

    def read_modify_write(self) -> AbstractAsyncContextManager[Any]:
        """Held around operations FerretDB does not make atomic (see the module docstring)."""
        return self._write_lock if self._write_lock is not None else nullcontext()

    def collection(self, name: str) -> MongoCollection:
        """Return the collection ``name`` (no I/O)."""
        return MongoCollection(self, check_collection_name(name))

    async def ping(self) -> None:
        """Send ``ping`` to the server."""
        with translate_errors("ping"):
            await self._database().command("ping")

    async def drop_collection(self, name: str) -> None:
        """Drop the collection and its indexes."""
        check_collection_name(name)
        with translate_errors(name):
            await self._database().drop_collection(name)


class MongoCollection(Collection):
    """A MongoDB collection behind the port; obtained from ``MongoDocumentStore.collection``."""

    def __init__(self, store: MongoDocumentStore, name: str) -> None:
        self._store = store
        self.name = name

    def __repr__(self) -> str:
        return f"MongoCollection({self.name!r} in {self._store.database_name!r})"

    @property
    def _coll(self) -> Any:
        return self._store._database()[self.name]

    async def create_index(self, keys: IndexKeys, *, unique: bool = False, name: str | None = None) -> str:
        keys = check_index_keys(keys)
        options: dict[str, Any] = {"unique": True} if unique else {}
        if name is not None:
            options["name"] = name
        with translate_errors(self.name):
            return await self._coll.create_index(keys, **options)

    async def insert_one(self, document: Mapping[str, Any]) -> str:
        check_document(document, f"document for {self.name!r}")
        document = {"_id": document.get("_id") or new_id(), **document}
        with translate_errors(self.name, document):
            await self._coll.insert_one(document)
        return document["_id"]

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        if isinstance(documents, Mapping) or not isinstance(documents, Sequence):
            raise InvalidArgument("insert_many takes a list of documents")
        for number, document in enumerate(documents):
            check_document(document, f"document {number} for {self.name!r}")
        if not documents:
            return []
        prepared = [{"_id": d.get("_id") or new_id(), **d} for d in documents]
        with translate_errors(self.name):
            await self._coll.insert_many(prepared, ordered=True)
        return [d["_id"] for d in prepared]

    async def find_one(self, filter: Filter | None = None, *, sort: Sort | None = None,
                       projection: Projection | None = None) -> Document | None:
        filter, sort, projection = check_filter(filter), check_sort(sort), check_projection(projection)
        with translate_errors(self.name):
            return await self._coll.find_one(portable_filter(filter), projection=projection, sort=sort)

    def find(self, filter: Filter | None = None, *, sort: Sort | None = None, skip: int = 0,
             limit: int = 0, projection: Projection | None = None) -> AsyncIterator[Document]:
        filter, sort, projection = check_filter(filter), check_sort(sort), check_projection(projection)
        check_window(skip, limit)
        return self._iterate(filter, sort, skip, limit, projection)

    async def _iterate(self, filter: dict[str, Any], sort: list[tuple[str, int]] | None, skip: int,
                       limit: int, projection: dict[str, bool] | None) -> AsyncIterator[Document]:
        cursor = self._coll.find(portable_filter(filter), projection=projection, sort=sort, skip=skip, limit=limit,
                                 batch_size=_BATCH_SIZE)
        try:
            with translate_errors(self.name):
                async for document in cursor:
                    yield document
        finally:
            await cursor.close()

    async def count_documents(self, filter: Filter | None = None) -> int:
        filter = check_filter(filter)
        with translate_errors(self.name):
            return await self._coll.count_documents(portable_filter(filter))

    async def distinct(self, field: str, filter: Filter | None = None) -> list[Any]:
        check_sort([(field, 1)], where="distinct field")
        filter = check_filter(filter)
        with translate_errors(self.name):
            return await self._coll.distinct(field, portable_filter(filter))

    async def aggregate(self, pipeline: Pipeline) -> list[Document]:
        stages = [{"$match": portable_filter(stage["$match"])} if "$match" in stage else stage
                  for stage in check_pipeline(pipeline)]
        with translate_errors(self.name):
            cursor = await self._coll.aggregate(stages)
            return await cursor.to_list()

    async def update_one(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        return await self._update("update_one", filter, update, upsert)

    async def update_many(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        return await self._update("update_many", filter, update, upsert)

    async def _update(self, method: str, filter: Filter, update: Update, upsert: bool) -> UpdateResult:
        filter, update = check_filter(filter), check_update(update)
        if upsert:
            upsert_seed(filter)  # rejects $and/$or, as the SQLite store does
            update = with_generated_id(filter, update)
        async with self._store.read_modify_write():
            with translate_errors(self.name):
                result = await getattr(self._coll, method)(portable_filter(filter), update, upsert=upsert)
        return UpdateResult(result.matched_count, result.modified_count, result.upserted_id)

    async def replace_one(self, filter: Filter, document: Mapping[str, Any], *,
                          upsert: bool = False) -> UpdateResult:
        filter = check_filter(filter)
        check_document(document, f"replacement for {self.name!r}")
        document = dict(document)
        if upsert:
            upsert_seed(filter)
        if not upsert or has_id_equality(filter) or "_id" in document:
            async with self._store.read_modify_write():
                with translate_errors(self.name, document):
                    result = await self._coll.replace_one(portable_filter(filter), document, upsert=upsert)
            return UpdateResult(result.matched_count, result.modified_count, result.upserted_id)
        # An upsert needs a string _id, but adding one to the replacement would clash with a
        # matched document's own _id: replace first, insert with a new id only if nothing matched.
        for _ in range(3):
            async with self._store.read_modify_write():
                with translate_errors(self.name, document):
                    result = await self._coll.replace_one(portable_filter(filter), document)
            if result.matched_count:
                return UpdateResult(result.matched_count, result.modified_count, None)
            candidate = {"_id": new_id(), **document}
            try:
                async with self._store.read_modify_write():
                    with translate_errors(self.name, candidate):
                        result = await self._coll.replace_one(portable_filter(filter), candidate,
                                                              upsert=True)
            except InvalidArgument:
                continue  # a matching document appeared in between (its _id differs): retry
            return UpdateResult(result.matched_count, result.modified_count, result.upserted_id)
        raise Conflict(f"replace_one upsert on {self.name!r} kept racing with concurrent writers; retry")

    async def find_one_and_update(self, filter: Filter, update: Update, *, upsert: bool = False,
                                  return_new: bool = True, sort: Sort | None = None,
                                  projection: Projection | None = None) -> Document | None:
        filter, update = check_filter(filter), check_update(update)
        sort, projection = check_sort(sort), check_projection(projection)
        if upsert:
            upsert_seed(filter)
            update = with_generated_id(filter, update)
        async with self._store.read_modify_write():
            with translate_errors(self.name):
                document = await self._coll.find_one_and_update(
                    portable_filter(filter), update, upsert=upsert, sort=sort,
                    return_document=ReturnDocument.AFTER if return_new else ReturnDocument.BEFORE)
        # FerretDB v1.24 does not implement findAndModify's "fields": project here instead.
        return project(document, projection) if document is not None else None

    async def delete_one(self, filter: Filter) -> int:
        filter = check_filter(filter)
        with translate_errors(self.name):
            return (await self._coll.delete_one(portable_filter(filter))).deleted_count

    async def delete_many(self, filter: Filter) -> int:
        filter = check_filter(filter)
        with translate_errors(self.name):
            return (await self._coll.delete_many(portable_filter(filter))).deleted_count
