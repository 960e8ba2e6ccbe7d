"""A collection of the embedded SQLite document store (see ``sqlite.py`` for the design).

Every public coroutine validates its arguments against the subset on the event loop, then
runs one function on the store thread; functions whose names start with ``_do`` run there.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakecache.core.errors import Conflict, InvalidArgument
from lakecache.core.ports.docstore import (
    Collection,
    Document,
    Filter,
    IndexKeys,
    Pipeline,
    Projection,
    Sort,
    Update,
    UpdateResult,
)

from .matcher import matches
from .pipeline import run_pipeline
from .projection import project
from .sqlite_query import (
    FilterTranslator,
    decode_document,
    encode_document,
    index_expression,
    order_by,
    quote_identifier,
    sort_expression,
)
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
from .update import apply_update
from .values import MISSING, array_paths, check_document, get_path, path_values, sort_key

if TYPE_CHECKING:
    from .sqlite import SqliteDocumentStore

_INDEX_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,120}")
_IN_CHUNK = 500  # ids per "_id IN (…)" query, well under SQLite's bound-parameter limit


def new_id() -> str:
    return uuid.uuid4().hex


def _with_id_first(document: Mapping[str, Any], _id: str) -> dict[str, Any]:
    # MongoDB stores _id as the first field; keep documents looking the same in both adapters.
    return {"_id": _id, **{k: v for k, v in document.items() if k != "_id"}}


class SqliteCollection(Collection):
    """A collection stored as one SQLite table; obtained from ``SqliteDocumentStore.collection``."""

    def __init__(self, store: SqliteDocumentStore, name: str) -> None:
        self._store = store
        self.name = name
        self._table = quote_identifier(name)

    def __repr__(self) -> str:
        return f"SqliteCollection({self.name!r} in {self._store.path!r})"

    # -- indexes -----------------------------------------------------------------------------

    async def create_index(self, keys: IndexKeys, *, unique: bool = False, name: str | None = None) -> str:
        keys = check_index_keys(keys)
        name = name or "_".join(f"{path}_{direction}" for path, direction in keys)
        if not _INDEX_NAME.fullmatch(name):
            raise InvalidArgument(f"invalid index name {name!r}: use 1-120 letters, digits, '_', '-' or '.'")
        if [path for path, _ in keys] == ["_id"]:
            return "_id_"  # the primary key already is this index
        return await self._store.call(self._do_create_index, keys, bool(unique), name)

    def _do_create_index(self, keys: list[tuple[str, int]], unique: bool, name: str) -> str:
        conn = self._store.conn
        spec = json.dumps(keys)
        with self._store.transaction():
            self._store.ensure_table(self.name)
            rows = conn.execute("SELECT name, keys, is_unique FROM _lakecache_indexes WHERE collection = ?",
                                (self.name,)).fetchall()
            for other_name, other_keys, other_unique in rows:
                if other_name == name and (other_keys, bool(other_unique)) == (spec, unique):
                    self._create_sort_index(keys, name)  # a store made before sort indexes existed gets it
                    return name
                if other_name == name or other_keys == spec:
                    raise Conflict(
                        f"collection {self.name!r} already has index {other_name!r} on "
                        f"{json.loads(other_keys)} (unique={bool(other_unique)}); it conflicts with "
                        f"{name!r} on {keys} (unique={unique}): drop it or reuse it"
                    )
            columns = ", ".join(index_expression(p) + (" DESC" if d == -1 else "") for p, d in keys)
            try:
                conn.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX "
                             f"{quote_identifier(self.name + '/' + name)} ON {self._table} ({columns})")
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"cannot create unique index {name!r} on collection {self.name!r}: existing "
                    f"documents share a value of {[p for p, _ in keys]}; remove the duplicates first"
                ) from exc
            conn.execute("INSERT INTO _lakecache_indexes (collection, name, keys, is_unique) VALUES (?, ?, ?, ?)",
                         (self.name, name, spec, int(unique)))
            self._create_sort_index(keys, name)
        return name

    def _create_sort_index(self, keys: list[tuple[str, int]], name: str) -> None:
        """The same keys on the expressions a sort orders by (``sort_expression``): filters compare
        ``json_extract`` (the index above serves them), while a sort orders a datetime by its
        number; without this twin, every sorted page of a large collection (the audit log newest
        first, tokens by creation) sorts the whole collection."""
        columns = ", ".join(sort_expression(p) + (" DESC" if d == -1 else "") for p, d in keys)
        self._store.conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_identifier(self.name + '/' + name + '/sort')} "
                                 f"ON {self._table} ({columns})")

    def _conflict(self, exc: sqlite3.IntegrityError, document: dict[str, Any]) -> Conflict:
        message = str(exc)
        match = re.search(r"index '([^']*)'", message)
        if match and "/" in match.group(1):
            index = match.group(1).split("/", 1)[1]
            row = self._store.conn.execute(
                "SELECT keys FROM _lakecache_indexes WHERE collection = ? AND name = ?", (self.name, index)
            ).fetchone()
            paths = [p for p, _ in json.loads(row[0])] if row else []
            key = {p: get_path(document, p.split(".")) for p in paths}
            return Conflict(
                f"duplicate key in collection {self.name!r}: unique index {index!r} already has a "
                f"document with {key!r}"
            )
        return Conflict(
            f"duplicate key in collection {self.name!r}: a document with _id {document.get('_id')!r} "
            "already exists"
        )

    # -- inserts -------------------------------------------------------------------------------

    async def insert_one(self, document: Mapping[str, Any]) -> str:
        check_document(document, f"document for {self.name!r}")
        return (await self._store.call(self._do_insert, [dict(document)]))[0]

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        if isinstance(documents, Mapping) or not isinstance(documents, Sequence):
            raise InvalidArgument("insert_many takes a list of documents")
        for number, document in enumerate(documents):
            check_document(document, f"document {number} for {self.name!r}")
        if not documents:
            return []
        return await self._store.call(self._do_insert, [dict(d) for d in documents])

    def _do_insert(self, documents: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        failure: Conflict | None = None
        with self._store.transaction():
            self._store.ensure_table(self.name)
            for document in documents:
                document = _with_id_first(document, document.get("_id") or new_id())
                try:
                    self._insert_row(document)
                except sqlite3.IntegrityError as exc:
                    # Keep what went in before the duplicate, as an ordered MongoDB insert does.
                    failure = self._conflict(exc, document)
                    break
                ids.append(document["_id"])
        if failure is not None:
            raise failure
        return ids

    def _insert_row(self, document: dict[str, Any]) -> None:
        self._store.conn.execute(f"INSERT INTO {self._table} (_id, doc) VALUES (?, ?)",
                                 (document["_id"], encode_document(document)))
        self._store.note_array_paths(self.name, array_paths(document))

    def _write_row(self, document: dict[str, Any]) -> None:
        try:
            self._store.conn.execute(f"UPDATE {self._table} SET doc = ? WHERE _id = ?",
                                     (encode_document(document), document["_id"]))
        except sqlite3.IntegrityError as exc:
            raise self._conflict(exc, document) from exc
        self._store.note_array_paths(self.name, array_paths(document))

    # -- reads -----------------------------------------------------------------------------------

    def _select(self, columns: str, filter: dict[str, Any], sort: list[tuple[str, int]] | None = None,
                skip: int = 0, limit: int = 0) -> list[tuple]:
        if not self._store.table_exists(self.name):
            return []
        where, params = FilterTranslator(self._store.array_paths(self.name)).where(filter)
        sql = f"SELECT {columns} FROM {self._table} WHERE {where}"
        if sort is not None:
            sql += " " + order_by(sort)
        if limit or skip:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, limit or -1, skip]
        return self._store.conn.execute(sql, params).fetchall()

    async def find_one(self, filter: Filter | None = None, *, sort: Sort | None = None,
                       projection: Projection | None = None) -> Document | None:
        filter, sort, projection = check_filter(filter), check_sort(sort), check_projection(projection)
        rows = await self._store.call(self._select, "doc", filter, sort, 0, 1)
        return project(decode_document(rows[0][0]), projection) if rows else None

    def find(self, filter: Filter | None = None, *, sort: Sort | None = None, skip: int = 0,
             limit: int = 0, projection: Projection | None = None) -> AsyncIterator[Document]:
        filter, sort, projection = check_filter(filter), check_sort(sort), check_projection(projection)
        check_window(skip, limit)
        return self._iterate(filter, sort, skip, limit, projection)

    async def _iterate(self, filter: dict[str, Any], sort: list[tuple[str, int]] | None, skip: int,
                       limit: int, projection: dict[str, bool] | None) -> AsyncIterator[Document]:
        batch = self._store.batch_size
        if limit and limit <= batch:
            for (text,) in await self._store.call(self._select, "doc", filter, sort or [], skip, limit):
                yield project(decode_document(text), projection)
            return
        # Snapshot the matching ids in order, then fetch documents a batch at a time.
        ids = [row[0] for row in await self._store.call(self._select, "_id", filter, sort or [], skip, limit)]
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            for document in await self._store.call(self._do_fetch, chunk, filter):
                yield project(document, projection)

    def _do_fetch(self, ids: list[str], filter: dict[str, Any]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            # By primary key alone, the filter checked here: with the filter in the SQL, SQLite may
            # walk the filter's index instead, over every match, for each batch (quadratic).
            for _id, text in self._select("_id, doc", {"_id": {"$in": ids[start:start + _IN_CHUNK]}}):
                document = decode_document(text)
                if not filter or matches(document, filter):  # changed since the ids were taken: left out
                    found[_id] = document
        return [found[_id] for _id in ids if _id in found]

    async def count_documents(self, filter: Filter | None = None) -> int:
        filter = check_filter(filter)
        rows = await self._store.call(self._select, "COUNT(*)", filter)
        return rows[0][0] if rows else 0

    async def distinct(self, field: str, filter: Filter | None = None) -> list[Any]:
        check_sort([(field, 1)], where="distinct field")
        filter = check_filter(filter)
        values: dict[tuple, Any] = {}
        parts = field.split(".")
        async for document in self._iterate(filter, None, 0, 0, None):
            for value in path_values(document, parts):
                if value is not MISSING and not isinstance(value, list):
                    values.setdefault(sort_key(value), value)
        return list(values.values())

    async def aggregate(self, pipeline: Pipeline) -> list[Document]:
        stages = check_pipeline(pipeline)
        # Push the leading $match stages, then a $sort, $skip and $limit in that order, into SQL.
        matches = []
        while stages and "$match" in stages[0]:
            matches.append(stages.pop(0)["$match"])
        filter = {"$and": matches} if len(matches) > 1 else (matches[0] if matches else {})
        sort, skip, limit = None, 0, 0
        if stages and "$sort" in stages[0]:
            sort = check_sort(stages.pop(0)["$sort"])
        if stages and "$skip" in stages[0]:
            skip = stages.pop(0)["$skip"]
        if stages and "$limit" in stages[0]:
            limit = stages.pop(0)["$limit"]
        documents = [d async for d in self._iterate(filter, sort, skip, limit, None)]
        return run_pipeline(documents, stages)

    # -- updates -----------------------------------------------------------------------------

    async def update_one(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        filter, update = check_filter(filter), check_update(update)
        seed = upsert_seed(filter) if upsert else None
        result, _, _ = await self._store.call(self._do_update, filter, update, seed, 1, None)
        return result

    async def update_many(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        filter, update = check_filter(filter), check_update(update)
        seed = upsert_seed(filter) if upsert else None
        result, _, _ = await self._store.call(self._do_update, filter, update, seed, 0, None)
        return result

    async def find_one_and_update(self, filter: Filter, update: Update, *, upsert: bool = False,
                                  return_new: bool = True, sort: Sort | None = None,
                                  projection: Projection | None = None) -> Document | None:
        filter, update = check_filter(filter), check_update(update)
        sort, projection = check_sort(sort), check_projection(projection)
        seed = upsert_seed(filter) if upsert else None
        result, before, after = await self._store.call(self._do_update, filter, update, seed, 1, sort)
        if return_new:
            return project(after, projection) if after is not None else None
        return project(before, projection) if before is not None and not result.upserted_id else None

    def _do_update(self, filter: dict[str, Any], update: dict[str, dict[str, Any]],
                   seed: dict[str, Any] | None, limit: int, sort: list[tuple[str, int]] | None):
        """Read, apply and write inside one transaction; returns (result, first before, first after)."""
        with self._store.transaction():
            rows = self._select("doc", filter, sort if limit else None, 0, limit)
            before = after = None
            modified = 0
            for (text,) in rows:
                old = decode_document(text)
                new = apply_update(old, update, inserting=False)
                if encode_document(new) != text:
                    self._write_row(new)
                    modified += 1
                if before is None:
                    before, after = old, new
            if rows or seed is None:
                return UpdateResult(len(rows), modified), before, after
            self._store.ensure_table(self.name)
            new = apply_update(seed, update, inserting=True)
            new = _with_id_first(new, new.get("_id") or new_id())
            try:
                self._insert_row(new)
            except sqlite3.IntegrityError as exc:
                raise self._conflict(exc, new) from exc
            return UpdateResult(0, 0, new["_id"]), None, new

    async def replace_one(self, filter: Filter, document: Mapping[str, Any], *,
                          upsert: bool = False) -> UpdateResult:
        filter = check_filter(filter)
        check_document(document, f"replacement for {self.name!r}")
        seed = upsert_seed(filter) if upsert else None
        return await self._store.call(self._do_replace, filter, dict(document), seed)

    def _do_replace(self, filter: dict[str, Any], document: dict[str, Any],
                    seed: dict[str, Any] | None) -> UpdateResult:
        with self._store.transaction():
            rows = self._select("_id, doc", filter, [], 0, 1)
            if rows:
                _id, text = rows[0]
                if document.get("_id", _id) != _id:
                    raise InvalidArgument(
                        f"replace_one on {self.name!r}: the replacement's _id {document['_id']!r} "
                        f"differs from the matched document's {_id!r}; _id cannot change"
                    )
                new = _with_id_first(document, _id)
                changed = encode_document(new) != text
                if changed:
                    self._write_row(new)
                return UpdateResult(1, int(changed))
            if seed is None:
                return UpdateResult(0, 0)
            self._store.ensure_table(self.name)
            new = _with_id_first(document, seed.get("_id") or document.get("_id") or new_id())
            try:
                self._insert_row(new)
            except sqlite3.IntegrityError as exc:
                raise self._conflict(exc, new) from exc
            return UpdateResult(0, 0, new["_id"])

    # -- deletes -------------------------------------------------------------------------------

    async def delete_one(self, filter: Filter) -> int:
        return await self._store.call(self._do_delete, check_filter(filter), 1)

    async def delete_many(self, filter: Filter) -> int:
        return await self._store.call(self._do_delete, check_filter(filter), 0)

    def _do_delete(self, filter: dict[str, Any], limit: int) -> int:
        with self._store.transaction():
            ids = [row[0] for row in self._select("_id", filter, None, 0, limit)]
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                self._store.conn.execute(
                    f"DELETE FROM {self._table} WHERE _id IN ({', '.join('?' * len(chunk))})", chunk)
            return len(ids)

    # -- diagnostics -----------------------------------------------------------------------------

    async def explain(self, filter: Filter | None = None, *, sort: Sort | None = None) -> list[str]:
        """SQLite's query plan for ``find(filter, sort=sort)``, one line per step (to check
        that a query uses an index)."""
        filter, sort = check_filter(filter), check_sort(sort)

        def plan() -> list[str]:
            if not self._store.table_exists(self.name):
                return []
            where, params = FilterTranslator(self._store.array_paths(self.name)).where(filter)
            sql = f"EXPLAIN QUERY PLAN SELECT doc FROM {self._table} WHERE {where} {order_by(sort or [])}"
            return [row[-1] for row in self._store.conn.execute(sql, params)]

        return await self._store.call(plan)
