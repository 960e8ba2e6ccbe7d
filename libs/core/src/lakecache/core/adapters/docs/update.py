"""Applying update operators to a document in Python, with MongoDB's semantics.

Used by the embedded store (SQLite has no document-update language worth mapping onto);
the input was already checked by ``subset.check_update``. Failures that depend on the stored
data (``$inc`` on a string, ``$set`` below a scalar) raise InvalidArgument with the same
meaning MongoDB's write errors have.
"""

from __future__ import annotations

import copy
from typing import Any

from lakecache.core.errors import InvalidArgument

from .subset import each_items
from .values import is_number, sort_key, utc_now, values_equal


def apply_update(document: dict[str, Any], update: dict[str, dict[str, Any]], *, inserting: bool) -> dict[str, Any]:
    """Return a new document: ``document`` with ``update`` applied (``$setOnInsert`` only
    when ``inserting``)."""
    result = copy.deepcopy(document)
    now = None
    for operator, fields in update.items():
        for path, argument in fields.items():
            parts = path.split(".")
            if operator == "$set" or (operator == "$setOnInsert" and inserting):
                _parent(result, parts, create=True)[parts[-1]] = copy.deepcopy(argument)
            elif operator == "$unset":
                parent = _parent(result, parts, create=False)
                if isinstance(parent, dict):
                    parent.pop(parts[-1], None)
            elif operator == "$currentDate":
                now = now or utc_now()
                _parent(result, parts, create=True)[parts[-1]] = now
            elif operator == "$inc":
                parent = _parent(result, parts, create=True)
                current = parent.get(parts[-1], 0)
                if not is_number(current):
                    raise InvalidArgument(
                        f"cannot apply $inc to {path!r}: the document {_id(document)} holds the "
                        f"non-numeric value {current!r} there"
                    )
                parent[parts[-1]] = current + argument
            elif operator in ("$min", "$max"):
                parent = _parent(result, parts, create=True)
                if parts[-1] not in parent:
                    parent[parts[-1]] = argument
                else:
                    smaller = sort_key(argument) < sort_key(parent[parts[-1]])
                    if smaller == (operator == "$min") and not values_equal(argument, parent[parts[-1]]):
                        parent[parts[-1]] = argument
            elif operator in ("$push", "$addToSet"):
                array = _array(result, parts, path, operator, document, create=True)
                for item in each_items(argument, operator, path):
                    if operator == "$push" or not any(values_equal(item, e) for e in array):
                        array.append(copy.deepcopy(item))
            elif operator == "$pull":
                array = _array(result, parts, path, operator, document, create=False)
                if array is not None:
                    array[:] = [e for e in array if not values_equal(e, argument)]
    return result


def _id(document: dict[str, Any]) -> str:
    return f"with _id {document['_id']!r}" if "_id" in document else "being upserted"


def _parent(document: dict[str, Any], parts: list[str], *, create: bool) -> dict[str, Any] | None:
    """The dict holding the last component of ``parts``, creating sub-documents on the way
    when ``create``. Without ``create``, None when the path does not lead through dicts."""
    current = document
    for depth, part in enumerate(parts[:-1]):
        child = current.get(part)
        if part not in current:
            if not create:
                return None
            child = current[part] = {}
        if not isinstance(child, dict):
            if not create:
                return None
            raise InvalidArgument(
                f"cannot create field {'.'.join(parts)!r}: {'.'.join(parts[:depth + 1])!r} in "
                f"the document {_id(document)} holds {child!r}, not a sub-document"
            )
        current = child
    return current


def _array(result: dict[str, Any], parts: list[str], path: str, operator: str,
           document: dict[str, Any], *, create: bool) -> list[Any] | None:
    parent = _parent(result, parts, create=create)
    if parent is None:
        return None
    if parts[-1] not in parent:
        if not create:
            return None
        parent[parts[-1]] = []
    array = parent[parts[-1]]
    if not isinstance(array, list):
        raise InvalidArgument(
            f"cannot apply {operator} to {path!r}: the document {_id(document)} holds the "
            f"non-array value {array!r} there"
        )
    return array
