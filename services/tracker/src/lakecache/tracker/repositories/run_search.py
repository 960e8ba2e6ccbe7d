"""A run search (``lakecache.tracker.search``'s clauses and orderings) in the document store's
language, so the store filters, orders and pages runs and only a page's documents are decoded.

Everything here must give exactly what the search's Python evaluation gives over the same
documents (``search.matches`` and ``search.ordered``); what cannot be said that exactly is
``None`` — "not translatable" — and the caller evaluates it in Python. The shapes this relies on
are the ones ``RunRepository`` writes:

* a metric is ``metrics.<key>.value``, a finite float or one of the strings ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"`` (``fields.stored_value``): comparisons name the infinities
  explicitly (the subset's range operators match numbers only, so a string never passes
  ``> 0.9`` by accident), and ordering splits a key into segments, because the stores order
  numbers before strings while MLflow's order puts NaN with minus infinity;
* params, tags, the run's name and user are strings or missing: range operators on strings
  never match a number, and an equality with a string never matches one;
* ``status`` is one of ``RUN_STATES`` in lower case (MLflow spells it in capitals);
* ``start_time`` is always set, ``end_time`` is a datetime or null, both kept to the millisecond.

Ordering: the search puts runs without the value last in both directions, then ties by id. The
stores put missing values first when ascending, so an ordering becomes a list of *segments* —
(filter, sort) pairs read one after the other — split on its first key; the later keys are
pushed down only where the store's own order is already the search's (always-present fields,
or a descending string or time, whose missing values the stores put last as well).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakecache.core.vocabulary.runs import RUN_STATES, is_key
from lakecache.tracker.repositories.fields import encode_key

if TYPE_CHECKING:
    from lakecache.tracker.search import Clause, Ordering

Filter = dict[str, Any]
Sort = list[tuple[str, int]]
#: A part of the ordered result: the runs matching ``filter``, in ``sort`` order (then by id).
Segment = tuple[Filter, Sort]

NOTHING: Filter = {"_id": {"$in": []}}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LARGEST = 1.7976931348623157e308  # every finite float is >= its negative: "is a finite number"
_LOW, _HIGH = ["NaN", "-Infinity"], "Infinity"  # ordered as minus infinity, and plus infinity
_STRING_FIELDS = {"run_name": "name", "user_id": "user", "experiment_id": "experiment_id",
                  "artifact_uri": "artifact_uri", "run_id": "_id"}
_TIMES = ("start_time", "end_time")
#: Fields every run document holds, so the store's order of them is the search's both ways.
_ALWAYS_SET = {"_id", "experiment_id", "start_time", "status"}


class Untranslatable(Exception):
    """The clause or ordering has no exact equivalent in the store's language."""


def where(clauses: Sequence[Clause]) -> list[Filter] | None:
    """The store filters whose conjunction is ``clauses``; None when one has no exact equivalent."""
    try:
        return [condition for clause in clauses if (condition := _clause(clause)) is not None]
    except Untranslatable:
        return None


def narrowing(clauses: Sequence[Clause]) -> list[Filter]:
    """Store filters implied by ``clauses``: the translatable ones (the caller evaluates all)."""
    conditions = []
    for clause in clauses:
        try:
            condition = _clause(clause)
        except Untranslatable:
            continue
        if condition is not None:
            conditions.append(condition)
    return conditions


def segments(orderings: Sequence[Ordering]) -> list[Segment] | None:
    """The ordered segments of ``orderings``; None when the store cannot give their order."""
    try:
        keys = [key for ordering in orderings if (key := _sort_key(ordering)) is not None]
        if not keys:
            return [({}, [])]
        seen: set[str] = set()  # a path again ties wherever it tied before: drop the repeat
        keys = [key for key in keys if not (key[1] in seen or seen.add(key[1]))]
        if "_id" in seen:  # ids are unique: nothing after them orders anything
            keys = keys[:[path for _, path, _ in keys].index("_id") + 1]
        first, rest = keys[0], keys[1:]
        for later in rest:
            if later[0] == "metric" or (later[1] not in _ALWAYS_SET and later[2] == 1):
                raise Untranslatable(later)
        tail = [(path, direction) for _, path, direction in rest]
        return [(condition, ([(first[1], first[2])] if ordered else []) + tail)
                for condition, ordered in _splits(*first)]
    except Untranslatable:
        return None


# -- clauses ------------------------------------------------------------------------------------

def _clause(clause: Clause) -> Filter | None:
    comparator, wanted = clause.comparator, clause.value
    if clause.kind != "attributes" and not is_key(clause.key):
        raise Untranslatable(clause)  # never a stored key: the Python path says no match cheaply enough
    if clause.kind == "metrics":
        return _metric(f"metrics.{encode_key(clause.key)}.value", comparator, wanted)
    if clause.kind in ("params", "tags"):
        return _string(f"{clause.kind}.{encode_key(clause.key)}", comparator, wanted)
    if clause.key in _TIMES:
        return _time(clause.key, comparator, wanted)
    if clause.key == "status":
        return _status(comparator, wanted)
    if clause.key == "lifecycle_stage":
        return _constant("active", comparator, wanted)
    if clause.key in _STRING_FIELDS:
        return _string(_STRING_FIELDS[clause.key], comparator, wanted)
    raise Untranslatable(clause)


def _present(path: str) -> Filter:
    return {path: {"$ne": None}}


def _present_and(path: str, condition: Filter) -> Filter:
    """``condition`` on a run that has the field (a negation alone also matches runs without it)."""
    return condition if path == "_id" else {"$and": [_present(path), condition]}


def _metric(path: str, comparator: str, wanted: Any) -> Filter:
    if comparator == "IS NULL":
        return {path: None}
    if comparator == "IS NOT NULL":
        return _present(path)
    if not math.isfinite(wanted):
        raise Untranslatable(wanted)
    if comparator == "=":
        return {path: wanted}
    if comparator == "!=":  # NaN and the infinities differ from every finite number
        return _present_and(path, {path: {"$ne": wanted}})
    operator = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}[comparator]
    infinity = "Infinity" if comparator[0] == ">" else "-Infinity"
    return {"$or": [{path: {operator: wanted}}, {path: infinity}]}


def _string(path: str, comparator: str, wanted: Any) -> Filter | None:
    if comparator in ("IS NULL", "IS NOT NULL") and path == "_id":  # every run has an id
        return NOTHING if comparator == "IS NULL" else None
    if comparator == "IS NULL":
        return {path: None}
    if comparator == "IS NOT NULL":
        return _present(path)
    if comparator == "=":
        return {path: wanted}
    if comparator == "!=":
        return _present_and(path, {path: {"$ne": wanted}})
    if comparator == "IN":
        return {path: {"$in": list(wanted)}}
    if comparator == "NOT IN":
        return _present_and(path, {path: {"$nin": list(wanted)}})
    return _like(path, comparator, wanted)


def _like(path: str, comparator: str, pattern: str) -> Filter:
    """LIKE without wildcards is equality, and ``'prefix%'`` a range of strings: the stores and
    Python all order strings by code point (UTF-8 bytes), so the strings starting with a prefix
    are exactly those from it up to (not including) the prefix with its last character
    advanced. ILIKE only when case cannot matter (ASCII without letters). The subset has no
    regular expressions, so any other pattern is the Python path's."""
    if comparator == "ILIKE" and not (pattern.isascii() and not any(c.isalpha() for c in pattern)):
        raise Untranslatable(pattern)
    if "%" not in pattern and "_" not in pattern:
        return {path: pattern}
    prefix = pattern[:-1]
    if not pattern.endswith("%") or "%" in prefix or "_" in prefix:
        raise Untranslatable(pattern)
    if not prefix:
        return {path: {"$gte": ""}}  # any string
    last = ord(prefix[-1])
    if last in (0xD7FF, 0x10FFFF):  # the next code point is a surrogate, or none
        raise Untranslatable(pattern)
    return {path: {"$gte": prefix, "$lt": prefix[:-1] + chr(last + 1)}}


def _status(comparator: str, wanted: Any) -> Filter | None:
    if comparator in ("IS NULL", "IS NOT NULL"):  # the search reads a missing status as ""
        return NOTHING if comparator == "IS NULL" else None
    if comparator in ("LIKE", "ILIKE"):
        raise Untranslatable(comparator)
    names = {w.upper() for w in (wanted if isinstance(wanted, tuple) else (wanted,))}
    if "" in names:
        raise Untranslatable(wanted)  # would match runs without a status, read as ""
    states = [s for s in RUN_STATES if s.upper() in names]
    return {"status": {"$in" if comparator in ("=", "IN") else "$nin": states}}


def _constant(value: str, comparator: str, wanted: Any) -> Filter | None:
    holds = {"=": lambda: value == wanted, "!=": lambda: value != wanted, "IN": lambda: value in wanted,
             "NOT IN": lambda: value not in wanted, "IS NULL": lambda: False, "IS NOT NULL": lambda: True}
    if comparator not in holds:
        raise Untranslatable(comparator)
    return None if holds[comparator]() else NOTHING


def _time(path: str, comparator: str, wanted: Any) -> Filter:
    """Times are whole milliseconds: a bound with a fraction becomes the nearest whole one inside."""
    if comparator == "IS NULL":
        return {path: None}
    if comparator == "IS NOT NULL":
        return _present(path)
    if not math.isfinite(wanted):
        raise Untranslatable(wanted)
    whole = float(wanted).is_integer()
    if comparator == "=":
        return {path: _moment(wanted)} if whole else NOTHING
    if comparator == "!=":
        return _present_and(path, {path: {"$ne": _moment(wanted)}}) if whole else _present(path)
    bound = {">": math.floor(wanted) + 1, ">=": math.ceil(wanted), "<": math.ceil(wanted) - 1,
             "<=": math.floor(wanted)}[comparator]
    return {path: {"$gte" if comparator[0] == ">" else "$lte": _moment(bound)}}


def _moment(ms: float) -> datetime:
    try:
        return _EPOCH + timedelta(milliseconds=int(ms))
    except OverflowError:
        raise Untranslatable(ms) from None


# -- orderings ----------------------------------------------------------------------------------

def _sort_key(ordering: Ordering) -> tuple[str, str, int] | None:
    """(kind of value, path, direction); None for an ordering every run ties on."""
    direction = -1 if ordering.descending else 1
    if ordering.kind != "attributes":
        if not is_key(ordering.key):
            return None  # never stored: every run lacks it
        if ordering.kind == "metrics":
            return "metric", f"metrics.{encode_key(ordering.key)}.value", direction
        return "value", f"{ordering.kind}.{encode_key(ordering.key)}", direction
    if ordering.key == "lifecycle_stage":
        return None
    if ordering.key in _TIMES or ordering.key == "status":
        return "value", ordering.key, direction
    if ordering.key in _STRING_FIELDS:
        return "value", _STRING_FIELDS[ordering.key], direction
    return None  # an unknown attribute reads as missing everywhere


def _splits(kind: str, path: str, direction: int) -> list[tuple[Filter, bool]]:
    """The segments of the first key, in order: (filter, whether it is ordered by the key)."""
    if kind == "metric":
        finite = ({path: {"$gte": -_LARGEST}}, True)
        low, high = ({path: {"$in": _LOW}}, False), ({path: _HIGH}, False)
        middle = [low, finite, high] if direction == 1 else [high, finite, low]
        return [*middle, ({path: None}, False)]
    if path in _ALWAYS_SET or direction == -1:
        return [({}, True)]  # the store's own order: missing values (if any) last when descending
    return [(_present(path), True), ({path: None}, False)]
