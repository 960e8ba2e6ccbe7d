"""Running the stages of a (validated) aggregation pipeline in Python.

The embedded store pushes the leading ``$match`` stages into SQL and runs the rest here.
Documents arrive as an iterable and flow through the stages one list at a time; the store is
meant for the metadata of one installation, not for analytics over millions of documents.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .matcher import matches
from .projection import project
from .subset import check_projection
from .values import MISSING, get_path, is_number, sort_key


def run_pipeline(documents: Iterable[dict[str, Any]], pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``pipeline`` to ``documents`` and return the result."""
    result = list(documents)
    for stage in pipeline:
        (name, argument), = stage.items()
        result = _STAGES[name](result, argument)
    return result


def _match(documents: list[dict[str, Any]], filter: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in documents if matches(d, filter)]


def _sort(documents: list[dict[str, Any]], spec: dict[str, int]) -> list[dict[str, Any]]:
    # Stable sorts from the last key to the first give a multi-key sort with mixed directions.
    result = list(documents)
    for path, direction in reversed(list(spec.items())):
        parts = path.split(".")
        result.sort(key=lambda d: sort_key(get_path(d, parts)), reverse=direction == -1)
    return result


def _limit(documents: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return documents[:n]


def _skip(documents: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return documents[n:]


def _project(documents: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    projection = check_projection(spec)
    return [project(d, projection) for d in documents]


def _unwind(documents: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    parts = reference[1:].split(".")
    result = []
    for document in documents:
        value = get_path(document, parts)
        if value is MISSING or value is None or value == []:
            continue
        for item in value if isinstance(value, list) else [value]:
            copied = copy.deepcopy(document)
            target = copied
            for part in parts[:-1]:
                target = target[part]
            target[parts[-1]] = item
            result.append(copied)
    return result


def _count(documents: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    return [{field: len(documents)}] if documents else []


def _add_fields(documents: list[dict[str, Any]], fields: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**d, **fields} for d in documents]


def _unset(documents: list[dict[str, Any]], paths: str | list[str]) -> list[dict[str, Any]]:
    projection = {path: False for path in ([paths] if isinstance(paths, str) else paths)}
    return [project(d, projection) for d in documents]


def _group(documents: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    key_spec = spec["_id"]
    (out, accumulator), = ((k, v) for k, v in spec.items() if k != "_id")
    (operator, operand), = accumulator.items()
    groups: dict[Any, tuple[Any, Any]] = {}
    for document in documents:
        key = _evaluate_key(document, key_spec)
        marker = repr(sort_key(key))
        _, total = groups.get(marker, (key, 0))
        if operator == "$count":
            total += 1
        else:
            value = operand if is_number(operand) else get_path(document, operand[1:].split("."))
            if is_number(value):  # $sum ignores non-numbers, as in MongoDB
                total += value
        groups[marker] = (key, total)
    return [{"_id": key, out: total} for key, total in groups.values()]


def _evaluate_key(document: dict[str, Any], key_spec: Any) -> Any:
    if key_spec is None:
        return None
    if isinstance(key_spec, dict):
        key = {}
        for name, reference in key_spec.items():
            value = get_path(document, reference[1:].split("."))
            if value is not MISSING:  # MongoDB omits missing fields from a compound key
                key[name] = value
        return key
    value = get_path(document, key_spec[1:].split("."))
    return None if value is MISSING else value


_STAGES = {
    "$match": _match,
    "$sort": _sort,
    "$limit": _limit,
    "$skip": _skip,
    "$project": _project,
    "$unwind": _unwind,
    "$count": _count,
    "$addFields": _add_fields,
    "$set": _add_fields,
    "$unset": _unset,
    "$group": _group,
}
