"""Evaluating a (validated) filter against a document in Python, with MongoDB's semantics.

The embedded store translates filters to SQL for queries; this evaluator serves the stages of
an aggregation that run after the first non-``$match`` stage, on documents that no longer
exist in a table.
"""

from __future__ import annotations

from typing import Any

from .subset import is_operator_dict
from .values import MISSING, comparable_kind, datetime_to_ms, path_values, values_equal


def matches(document: dict[str, Any], filter: dict[str, Any]) -> bool:
    """True when ``document`` satisfies ``filter``."""
    for key, condition in filter.items():
        if key == "$and":
            if not all(matches(document, clause) for clause in condition):
                return False
        elif key == "$or":
            if not any(matches(document, clause) for clause in condition):
                return False
        else:
            values = list(path_values(document, key.split(".")))
            if not _condition_holds(values, condition):
                return False
    return True


def _condition_holds(values: list[Any], condition: Any) -> bool:
    if not is_operator_dict(condition):
        return _equals(values, condition)
    for operator, argument in condition.items():
        if operator == "$eq":
            ok = _equals(values, argument)
        elif operator == "$ne":
            ok = not _equals(values, argument)
        elif operator == "$in":
            ok = any(_equals(values, item) for item in argument)
        elif operator == "$nin":
            ok = not any(_equals(values, item) for item in argument)
        elif operator == "$exists":
            ok = any(v is not MISSING for v in values) == argument
        else:
            ok = any(_compare(v, operator, argument) for v in values)
        if not ok:
            return False
    return True


def _equals(values: list[Any], argument: Any) -> bool:
    if argument is None:
        return any(v is None or v is MISSING for v in values)
    return any(v is not MISSING and values_equal(v, argument) for v in values)


def _compare(value: Any, operator: str, argument: Any) -> bool:
    kind = comparable_kind(argument)
    if value is MISSING or comparable_kind(value) != kind:
        return False
    if kind == "date":
        value, argument = datetime_to_ms(value), datetime_to_ms(argument)
    elif kind == "string":
        value, argument = value.encode(), argument.encode()
    if operator == "$gt":
        return value > argument
    if operator == "$gte":
        return value >= argument
    if operator == "$lt":
        return value < argument
    return value <= argument
