"""The document-store port: where services keep their metadata (datasets, fills, runs, metrics).

A deliberate **subset** of MongoDB that behaves the same on real MongoDB, on FerretDB v1.24.2
(the test server) and on the embedded SQLite store. Both adapters validate every filter, update,
sort, projection and pipeline against that subset *before* touching the store and raise
:class:`InvalidArgument` naming the offending operator, so code written against one adapter
cannot quietly start depending on something another lacks. The subset, the reasons for each
restriction and the known differences between adapters are in ``docs/adapters/document-store.md``.

Summary of the subset:

* Documents are ``dict``s whose keys are non-empty strings, contain no ``.`` and do not start
  with ``$``. Values: ``str``, ``int`` (64-bit), ``float`` (finite), ``bool``, ``None``,
  ``bytes``, timezone-aware ``datetime``, lists (not lists of lists) and nested dicts.
  ``_id`` is a string; :meth:`Collection.insert_one` generates one (uuid4 hex) when absent.
* Datetimes come back timezone-aware in UTC, truncated to milliseconds.
* Filters: ``{"field.path": value}`` equality and the operators ``$eq $ne $gt $gte $lt $lte
  $in $nin $exists``, combined with ``$and``/``$or``. Comparands are scalars (``str``, numbers,
  ``bool``, ``None``, ``datetime``); range operators take a number, string or datetime and only
  match values of the same kind. A field holding an array matches when any element does, and a
  dotted path walks into arrays of sub-documents (``{"inputs.commit": c}``). Comparing such a
  path with ``None`` is left unspecified (FerretDB and MongoDB disagree).
* Updates: ``$set $unset $inc $setOnInsert $push $addToSet`` (both with ``$each``), ``$pull``
  (scalar equality), ``$min $max $currentDate``.
* Sorts: ``[(path, 1 | -1), ...]``; sort only on fields that hold one kind of scalar (missing
  and ``None`` sort first ascending). Order among ties is unspecified: end with ``("_id", 1)``
  for stable pagination.
* Aggregation stages: ``$match $group $sort $limit $skip $project $unwind $count $addFields
  $set $unset``; ``$group`` has one accumulator, ``$sum`` or ``$count``.

Exceptions raised by every adapter: :class:`InvalidArgument` (outside the subset or a value the
update cannot apply to), :class:`Conflict` (duplicate ``_id`` or unique-index violation; the
message names the collection and the key), :class:`Unavailable` (the server cannot be
reached), :class:`ConfigurationError` (bad URL or option, raised by ``from_url``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from lakecache.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidArgument,
    NotFound,
    Unavailable,
)

__all__ = [
    "Collection",
    "ConfigurationError",
    "Conflict",
    "Document",
    "DocumentStore",
    "Filter",
    "IndexKeys",
    "InvalidArgument",
    "NotFound",
    "Pipeline",
    "Projection",
    "Sort",
    "Unavailable",
    "Update",
    "UpdateResult",
]

Document = dict[str, Any]
Filter = Mapping[str, Any]
Update = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]
Projection = Mapping[str, Any]
IndexKeys = Sequence[tuple[str, int]]
Pipeline = Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What an update or replace did.

    ``matched``: documents the filter selected; ``modified``: those whose content changed
    (an update that writes the values already stored does not count); ``upserted_id``: the
    ``_id`` of the document an upsert inserted, else ``None``.
    """

    matched: int
    modified: int
    upserted_id: str | None = None


class Collection(ABC):
    """A named set of documents in a :class:`DocumentStore`.

    Obtained from :meth:`DocumentStore.collection`; usable while the store is open. A
    collection springs into existence on its first write; reading a collection that does not
    exist returns nothing (no error).
    """

    name: str

    @abstractmethod
    async def create_index(
        self, keys: IndexKeys, *, unique: bool = False, name: str | None = None
    ) -> str:
        """Create an index on ``keys`` (``[(path, 1 | -1), ...]``) and return its name.

        Idempotent: asking again for the same keys, options and name does nothing. The default
        name is MongoDB's (``"a_1_b_-1"``). With ``unique=True`` a write that would make two
        documents share the key raises :class:`Conflict`; documents *missing* an indexed field
        do not collide with each other (see the adapter notes). Raises :class:`Conflict` when
        the existing documents already violate uniqueness, or when an index with the same name
        but other keys/options (or the same keys under another name) exists;
        :class:`InvalidArgument` for an invalid key list.
        """

    @abstractmethod
    async def insert_one(self, document: Mapping[str, Any]) -> str:
        """Insert ``document`` and return its ``_id`` (generated when absent).

        The caller's mapping is not modified. Raises :class:`Conflict` on a duplicate ``_id``
        or unique-index violation, :class:`InvalidArgument` for keys or values outside the
        subset.
        """

    @abstractmethod
    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """Insert ``documents`` in order and return their ``_id``s.

        Every document is validated first (nothing is written if one is invalid). On a
        :class:`Conflict` the documents before the offending one stay inserted and the rest
        are not inserted.
        """

    @abstractmethod
    async def find_one(
        self,
        filter: Filter | None = None,
        *,
        sort: Sort | None = None,
        projection: Projection | None = None,
    ) -> Document | None:
        """Return the first document matching ``filter`` in ``sort`` order, or ``None``.

        ``projection`` is ``{path: 1, ...}`` (inclusion; ``_id`` is kept unless ``"_id": 0``)
        or ``{path: 0, ...}`` (exclusion).
        """

    @abstractmethod
    def find(
        self,
        filter: Filter | None = None,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Projection | None = None,
    ) -> AsyncIterator[Document]:
        """Iterate over matching documents (``async for``), fetched in batches.

        ``limit=0`` means no limit. Invalid arguments raise :class:`InvalidArgument` at the
        call, before iteration starts. Documents changed while iterating may or may not be
        seen in their new state.
        """

    async def find_list(
        self,
        filter: Filter | None = None,
        *,
        sort: Sort | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Projection | None = None,
    ) -> list[Document]:
        """Like :meth:`find`, collected into a list (mind ``limit`` on large collections)."""
        cursor = self.find(filter, sort=sort, skip=skip, limit=limit, projection=projection)
        return [document async for document in cursor]

    @abstractmethod
    async def update_one(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        """Apply ``update`` operators to the first document matching ``filter``.

        With ``upsert=True`` and no match, insert a document built from the filter's
        top-level equality fields (``{"a": 1}`` or ``{"a": {"$eq": 1}}``; dotted paths become
        nested documents), then ``update`` applied to it including ``$setOnInsert``. An
        upsert's filter may not use ``$and``/``$or``. The new ``_id`` comes from the filter
        or ``$setOnInsert``, else it is generated. Raises :class:`InvalidArgument` for an
        update outside the subset or one that cannot apply (``$inc`` on a string…),
        :class:`Conflict` for a unique-index violation.
        """

    @abstractmethod
    async def update_many(self, filter: Filter, update: Update, *, upsert: bool = False) -> UpdateResult:
        """Like :meth:`update_one`, for every matching document."""

    @abstractmethod
    async def replace_one(
        self, filter: Filter, document: Mapping[str, Any], *, upsert: bool = False
    ) -> UpdateResult:
        """Replace the first document matching ``filter`` with ``document`` (keeping its ``_id``).

        A ``document`` carrying a different ``_id`` than the matched one raises
        :class:`InvalidArgument`. With ``upsert=True`` and no match, ``document`` is inserted
        with the ``_id`` from the filter's equality, its own, or a generated one.
        """

    @abstractmethod
    async def find_one_and_update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
        projection: Projection | None = None,
    ) -> Document | None:
        """Atomically update the first document matching ``filter`` and return it.

        This is the compare-and-swap primitive: put the expected state in the filter
        (``{"_id": k, "generation": 4}``) and the new state in the update; exactly one of
        several concurrent callers wins, the others get ``None``. Returns the document after
        the update (``return_new=True``) or before it; ``None`` when nothing matched, or when
        an upsert inserted and ``return_new`` is false. Exceptions as :meth:`update_one`.
        """

    @abstractmethod
    async def delete_one(self, filter: Filter) -> int:
        """Delete the first document matching ``filter``; return how many were deleted (0 or 1)."""

    @abstractmethod
    async def delete_many(self, filter: Filter) -> int:
        """Delete every document matching ``filter`` (``{}`` for all); return how many."""

    @abstractmethod
    async def count_documents(self, filter: Filter | None = None) -> int:
        """Return how many documents match ``filter``."""

    @abstractmethod
    async def distinct(self, field: str, filter: Filter | None = None) -> list[Any]:
        """Return the distinct values of ``field`` among matching documents, in no given order.

        Array values contribute their elements; documents missing the field contribute
        nothing.
        """

    @abstractmethod
    async def aggregate(self, pipeline: Pipeline) -> list[Document]:
        """Run an aggregation ``pipeline`` and return all resulting documents.

        Stages: ``$match`` (a filter), ``$group`` (``{"_id": "$path" | {"k": "$path", ...} |
        None, "<out>": {"$sum": 1 | "$path"} | {"$count": {}}}`` — one accumulator),
        ``$sort``, ``$limit``, ``$skip``, ``$project`` (0/1 values only), ``$unwind``
        (``"$path"``), ``$count`` (``"<out>"``; no document when nothing is counted),
        ``$addFields``/``$set`` (top-level fields set to literal values, not expressions),
        ``$unset``. Raises :class:`InvalidArgument` for anything else.
        """


class DocumentStore(ABC):
    """A database of collections. Construct with ``from_url`` (no I/O), open with ``async with``."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Return an unopened store for ``url``; raises :class:`ConfigurationError` if it is wrong."""

    @abstractmethod
    async def __aenter__(self) -> Self:
        """Open connections/files; raises :class:`Unavailable` when the backend cannot be reached."""

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close everything the store opened."""

    @abstractmethod
    def collection(self, name: str) -> Collection:
        """Return the collection called ``name`` (no I/O).

        Names are 1-100 characters of letters, digits, ``_ - .``, starting with a letter;
        anything else raises :class:`InvalidArgument`.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Round-trip to the backend; raises :class:`Unavailable` if it does not answer."""

    @abstractmethod
    async def drop_collection(self, name: str) -> None:
        """Delete the collection, its documents and its indexes (no error if it does not exist)."""
