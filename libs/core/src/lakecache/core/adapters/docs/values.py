"""Values of the document-store subset: what a document may hold, how datetimes are normalised,
and MongoDB's equality and ordering between values.

Shared by both adapters (the SQLite store evaluates updates and later pipeline stages in
Python with these rules; the MongoDB store uses the checks before sending anything), so a
value one adapter accepts is accepted by the other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lakecache.core.errors import InvalidArgument

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_COLLECTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")

# Marks an absent field; distinct from None, which is a stored null.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def datetime_to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, truncated like BSON does (floor)."""
    return (value - _EPOCH) // _MS


def ms_to_datetime(ms: int) -> datetime:
    """The UTC datetime ``ms`` milliseconds after the epoch."""
    return _EPOCH + ms * _MS


def utc_now() -> datetime:
    """Now, in UTC, truncated to what a document can hold (milliseconds)."""
    return ms_to_datetime(datetime_to_ms(datetime.now(UTC)))


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    """A value filters may compare against: str, number, bool, None or datetime."""
    return value is None or isinstance(value, str | bool | datetime) or is_number(value)


def check_collection_name(name: Any) -> str:
    if not isinstance(name, str) or not _COLLECTION_NAME.fullmatch(name) or name.startswith(
        ("system.", "sqlite_")
    ):
        raise InvalidArgument(
            f"invalid collection name {name!r}: use 1-100 letters, digits, '_', '-' or '.', "
            "starting with a letter (and not 'system.' or 'sqlite_')"
        )
    return name


def check_path(path: Any, where: str) -> list[str]:
    """Validate a dotted field path and return its components."""
    if not isinstance(path, str) or not path:
        raise InvalidArgument(f"{where}: field path must be a non-empty string, got {path!r}")
    parts = path.split(".")
    for part in parts:
        if not part or part.startswith("$") or '"' in part or part.isdigit():
            raise InvalidArgument(
                f"{where}: invalid field path {path!r}: components must be non-empty, must not "
                "start with '$', contain '\"' or be array positions (digits)"
            )
    return parts


def check_scalar(value: Any, where: str) -> None:
    if not is_scalar(value):
        raise InvalidArgument(
            f"{where}: expected a str, number, bool, None or datetime, got "
            f"{type(value).__name__} {value!r}; compare sub-document fields with dotted paths"
        )
    check_value(value, where)


def check_value(value: Any, where: str, *, in_list: bool = False) -> None:
    """Raise InvalidArgument unless ``value`` may be stored in a document."""
    if value is None or isinstance(value, str | bool | bytes):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidArgument(f"{where}: integer {value} does not fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{where}: {value} is not a finite number")
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgument(
                f"{where}: naive datetime {value.isoformat()} is ambiguous; pass a "
                "timezone-aware one, e.g. datetime.now(UTC)"
            )
    elif isinstance(value, Mapping):
        check_keys(value, where)
    elif isinstance(value, list):
        if in_list:
            raise InvalidArgument(f"{where}: lists of lists are not supported (FerretDB lacks them)")
        for item in value:
            check_value(item, where, in_list=True)
    else:
        raise InvalidArgument(
            f"{where}: values of type {type(value).__name__} cannot be stored; use str, int, "
            "float, bool, None, bytes, datetime, list or dict"
        )


def check_keys(document: Mapping[str, Any], where: str) -> None:
    for key, value in document.items():
        if not isinstance(key, str) or not key or "." in key or key.startswith("$"):
            raise InvalidArgument(
                f"{where}: invalid key {key!r}: keys must be non-empty strings without '.' "
                "and not starting with '$'"
            )
        check_value(value, f"{where}.{key}")


def check_document(document: Any, where: str) -> None:
    """Raise InvalidArgument unless ``document`` may be inserted as it is."""
    if not isinstance(document, Mapping):
        raise InvalidArgument(f"{where}: a document must be a dict, got {type(document).__name__}")
    check_keys(document, where)
    if "_id" in document and (not isinstance(document["_id"], str) or not document["_id"]):
        raise InvalidArgument(f"{where}: _id must be a non-empty string, got {document['_id']!r}")


# -- MongoDB equality and ordering (for values evaluated in Python) -------------------------

def values_equal(a: Any, b: Any) -> bool:
    """MongoDB equality: numbers compare by value, bools never equal numbers, dict order counts."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return datetime_to_ms(a) == datetime_to_ms(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def sort_key(value: Any) -> tuple:
    """A key ordering values like BSON does: null < numbers < strings < objects < arrays <
    binary < bool < date. A missing field sorts as null."""
    if value is None or value is MISSING:
        return (1,)
    if isinstance(value, bool):
        return (8, value)
    if is_number(value):
        return (2, value)
    if isinstance(value, str):
        return (3, value.encode())
    if isinstance(value, dict):
        return (4, tuple((k, sort_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return (5, tuple(sort_key(v) for v in value))
    if isinstance(value, bytes):
        return (6, len(value), value)
    if isinstance(value, datetime):
        return (9, datetime_to_ms(value))
    raise InvalidArgument(f"cannot order a value of type {type(value).__name__}")


def comparable_kind(value: Any) -> str | None:
    """The kind range operators compare within (MongoDB's type bracketing)."""
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    return None


# -- paths ------------------------------------------------------------------------------------

def get_path(document: Any, parts: list[str]) -> Any:
    """The value at ``parts`` walking through dicts only, or MISSING."""
    current = document
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            return MISSING
        current = current[part]
    return current


def path_values(document: Any, parts: list[str]) -> Iterator[Any]:
    """Every value a filter on ``parts`` considers, with MongoDB's array rules: a path walks
    into arrays of sub-documents, and an array at the end contributes itself and each element.
    Yields MISSING where a branch of the path is absent."""
    if not parts:
        yield document
        if isinstance(document, list):
            yield from document
        return
    if isinstance(document, dict):
        if parts[0] in document:
            yield from path_values(document[parts[0]], parts[1:])
        else:
            yield MISSING
    elif isinstance(document, list):
        subdocuments = [item for item in document if isinstance(item, dict)]
        if not subdocuments:
            yield MISSING
        for item in subdocuments:
            yield from path_values(item, parts)
    else:
        yield MISSING


def array_paths(document: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths (without positions) at which ``document`` holds a list, including paths
    inside lists of sub-documents."""
    found: set[str] = set()
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found |= array_paths(value, path + ".")
        elif isinstance(value, list):
            found.add(path)
            for item in value:
                if isinstance(item, dict):
                    found |= array_paths(item, path + ".")
    return found
