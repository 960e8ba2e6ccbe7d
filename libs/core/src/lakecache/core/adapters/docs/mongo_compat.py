"""Where FerretDB v1.24 and MongoDB differ, and how PyMongo's errors map to the port's.

Used by ``mongo.py`` only; kept apart so the adapter reads as plain PyMongo calls and every
workaround is in one place with its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from lakecache.core.errors import Conflict, InvalidArgument, Unavailable

from .subset import is_operator_dict, upsert_seed

# Server error codes that mean "this request cannot apply" rather than "the server failed".
_INVALID_CODES = {2, 9, 14, 28, 40, 52, 66, 67}  # BadValue, FailedToParse, TypeMismatch, PathNotViable…
_INDEX_CONFLICT_CODES = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict

def new_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def translate_errors(collection: str, document: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Turn PyMongo's exceptions into the port's."""
    try:
        yield
    except DuplicateKeyError as exc:
        raise _conflict(collection, exc.details or {}, document) from exc
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if errors and errors[0].get("code") == 11000:
            raise _conflict(collection, errors[0], errors[0].get("op")) from exc
        raise InvalidArgument(f"write to collection {collection!r} failed: {errors[:1] or exc}") from exc
    except (ServerSelectionTimeoutError, ConnectionFailure) as exc:
        raise Unavailable(f"MongoDB is unreachable while working on {collection!r}: {exc}") from exc
    except OperationFailure as exc:
        message = (exc.details or {}).get("errmsg", str(exc))
        if "UNIQUE constraint failed" in message:
            # FerretDB v1.24 reports unique-index violations of updates and of index builds
            # over duplicates as InternalError carrying SQLite's message, not as E11000.
            raise Conflict(f"duplicate key in collection {collection!r}: a unique index rejected "
                           f"the write ({message.rsplit('] ', 1)[-1]})") from exc
        if exc.code in _INDEX_CONFLICT_CODES:
            raise Conflict(f"index conflict in collection {collection!r}: {exc.details.get('errmsg', exc)}") from exc
        if exc.code in _INVALID_CODES:
            raise InvalidArgument(f"MongoDB rejected the operation on {collection!r}: {message}") from exc
        raise


def _conflict(collection: str, details: Mapping[str, Any], document: Mapping[str, Any] | None) -> Conflict:
    # Real MongoDB names the key in keyValue; FerretDB does not, so fall back to the document.
    key = details.get("keyValue")
    if key is None and document is not None:
        key = {"_id": document.get("_id")}
    return Conflict(f"duplicate key in collection {collection!r}: {key!r} already exists "
                    f"({details.get('errmsg', 'E11000')})")


def portable_filter(filter: dict[str, Any]) -> dict[str, Any]:
    """The filter to send: ``$ne``/``$nin`` on a dotted path become a ``$nor`` clause.

    FerretDB v1.24 gets negations wrong on a path through an array of sub-documents
    (``{"pets.kind": {"$ne": "cat"}}`` matches a document with a cat among other pets), while
    its ``$nor`` of the positive condition is right; on MongoDB both forms mean the same.
    Top-level equality fields stay where they are, so upserts still copy them.
    """
    result: dict[str, Any] = {}
    negated: list[dict[str, Any]] = []
    for key, condition in filter.items():
        if key in ("$and", "$or"):
            result[key] = [portable_filter(clause) for clause in condition]
        elif "." in key and is_operator_dict(condition) and ({"$ne", "$nin"} & set(condition)):
            rest = {op: arg for op, arg in condition.items() if op not in ("$ne", "$nin")}
            if rest:
                result[key] = rest
            if "$ne" in condition:
                negated.append({key: {"$eq": condition["$ne"]}})
            if "$nin" in condition:
                negated.append({key: {"$in": condition["$nin"]}})
        else:
            result[key] = condition
    if negated:
        result["$nor"] = negated
    return result


def has_id_equality(filter: Mapping[str, Any]) -> bool:
    return "_id" in upsert_seed(filter)


def with_generated_id(filter: dict[str, Any], update: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # MongoDB would invent an ObjectId for an upserted document; the port promises string ids.
    if has_id_equality(filter) or "_id" in update.get("$setOnInsert", {}):
        return update
    return {**update, "$setOnInsert": {**update.get("$setOnInsert", {}), "_id": new_id()}}
