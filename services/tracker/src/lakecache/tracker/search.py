"""Searching runs with MLflow's filter and order strings, evaluated over run documents.

The grammar is MLflow's ``search_runs`` grammar (``mlflow.utils.search_utils``), so a filter
that works with ``mlflow.search_runs`` works here and through ``lakecache runs list``:

* clauses joined by ``AND`` (MLflow has no ``OR`` either);
* an identifier is ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` or
  ``attributes.<name>`` (``metric``, ``param``, ``tag``, ``attribute``, ``attr`` and ``run``
  also work, and a bare attribute name); a key with other characters is quoted with
  backticks or double quotes (``metrics.`val loss```);
* metrics and the time attributes (``start_time``, ``end_time``, epoch milliseconds) compare
  with ``= != > >= < <=`` against a number; params, tags and the other attributes
  (``run_name``, ``run_id``, ``status``, ``user_id``, ``experiment_id``) with ``= !=``,
  ``LIKE``/``ILIKE`` (``%`` and ``_``), ``IN``/``NOT IN`` a parenthesised list of strings,
  and ``IS NULL``/``IS NOT NULL``;
* a run without the metric, param or tag a clause names does not match it (as in MLflow).

``find`` hands a search to the store when it can say it exactly (``RunRepository.search``:
the store filters, orders and pages, and only the page is read); anything else is evaluated
here, by ``matches`` and ``ordered``, over the experiments' runs the store narrowed down with
the clauses it could evaluate. Both give the same answer: ``tests/tracker/test_search_pushdown.py``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakecache.core.errors import InvalidArgument
from lakecache.tracker.repositories.fields import encode_key, loaded_value

if TYPE_CHECKING:
    from lakecache.tracker.repositories.runs import RunRepository

_TYPES = {"metric": "metrics", "metrics": "metrics", "param": "params", "params": "params", "tag": "tags",
          "tags": "tags", "attribute": "attributes", "attributes": "attributes", "attr": "attributes",
          "run": "attributes"}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
_STRING_ATTRIBUTES = {"run_name", "run_id", "status", "user_id", "experiment_id", "artifact_uri", "lifecycle_stage"}
_COMPARE = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
            "<=": operator.le}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_ATTRIBUTE_ALIASES = {"id": "run_id", "name": "run_name", "user": "user_id", "created": "start_time",
                      "Created": "start_time"}

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<backtick>`[^`]*`)
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<op>!=|>=|<=|=|>|<|\(|\)|,|\.)
    | (?P<word>[A-Za-z_][\w\-/]*)
    )""", re.VERBOSE)


@dataclass(frozen=True)
class Clause:
    kind: str  # metrics, params, tags, attributes
    key: str
    comparator: str
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise InvalidArgument(f"filter: cannot read {text[at:at + 20]!r} at character {at + 1} of {text!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        at = match.end()
        while at < len(text) and text[at].isspace():
            at += 1
    return tokens


def _unquote(kind: str, raw: str) -> str:
    if kind == "string":
        quote = raw[0]
        return raw[1:-1].replace(quote * 2, quote)
    if kind == "backtick":
        return raw[1:-1]
    return raw


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.at = text, _tokens(text), 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidArgument(f"filter {self.text!r} ends too early")
        self.at += 1
        return token

    def word(self, *expected: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() in expected:
            self.at += 1
            return True
        return False

    def error(self, what: str) -> InvalidArgument:
        return InvalidArgument(f"filter {self.text!r}: {what}")


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of a filter string (empty or None: every run); ``InvalidArgument`` naming
    what cannot be read."""
    if text is None or not text.strip():
        return []
    reader = _Reader(text)
    clauses = [_clause(reader)]
    while reader.peek() is not None:
        if reader.word("OR"):
            raise reader.error("OR is not supported (as in MLflow): search twice, or use IN")
        if not reader.word("AND"):
            raise reader.error(f"expected AND, got {reader.peek()[1]!r}")
        clauses.append(_clause(reader))
    return clauses


def _identifier(reader: _Reader) -> tuple[str, str]:
    kind, raw = reader.take()
    if kind in ("string", "backtick"):  # a whole quoted identifier: "params.lr"
        prefix, dot, rest = _unquote(kind, raw).partition(".")
        if dot and prefix in _TYPES:
            return _TYPES[prefix], rest
        raise reader.error(f"{raw} is not an identifier such as metrics.loss or params.`batch size`")
    if kind != "word":
        raise reader.error(f"expected an identifier such as metrics.loss, got {raw!r}")
    if reader.peek() == ("op", "."):
        if raw not in _TYPES:
            raise reader.error(f"{raw!r} is not metrics, params, tags or attributes")
        reader.take()
        key_kind, key = reader.take()
        if key_kind not in ("word", "string", "backtick", "number"):
            raise reader.error(f"expected a key after {raw}., got {key!r}")
        key = _unquote(key_kind, key)
        while key_kind in ("word", "number") and reader.peek() == ("op", "."):  # params.a.b: the key "a.b"
            reader.take()
            key_kind, more = reader.take()
            key += "." + _unquote(key_kind, more)
        return _TYPES[raw], key
    return "attributes", raw


def _clause(reader: _Reader) -> Clause:
    kind, key = _identifier(reader)
    if kind == "attributes":
        key = _ATTRIBUTE_ALIASES.get(key, key)
        if key not in _NUMERIC_ATTRIBUTES | _STRING_ATTRIBUTES:
            raise reader.error(f"unknown attribute {key!r}; the attributes are "
                               f"{', '.join(sorted(_NUMERIC_ATTRIBUTES | _STRING_ATTRIBUTES))}")
    numeric = kind == "metrics" or key in _NUMERIC_ATTRIBUTES and kind == "attributes"
    if reader.word("IS"):
        negated = reader.word("NOT")
        if not reader.word("NULL"):
            raise reader.error("expected NULL after IS")
        return Clause(kind, key, "IS NOT NULL" if negated else "IS NULL", None)
    if reader.word("NOT"):
        if not reader.word("IN"):
            raise reader.error("expected IN after NOT")
        comparator = "NOT IN"
    elif reader.word("IN"):
        comparator = "IN"
    elif reader.word("LIKE", "ILIKE"):
        comparator = reader.tokens[reader.at - 1][1].upper()
    else:
        op_kind, comparator = reader.take()
        if op_kind != "op" or comparator not in ("=", "!=", ">", ">=", "<", "<="):
            raise reader.error(f"expected a comparator after {kind}.{key}, got {comparator!r}")
    if comparator in ("IN", "NOT IN"):
        if numeric:
            raise reader.error(f"{comparator} compares strings; {kind}.{key} is a number")
        return Clause(kind, key, comparator, _string_list(reader))
    value_kind, raw = reader.take()
    if numeric:
        if comparator in ("LIKE", "ILIKE"):
            raise reader.error(f"{comparator} compares strings; {kind}.{key} is a number")
        if value_kind != "number":
            raise reader.error(f"{kind}.{key} compares with a number, got {raw}")
        return Clause(kind, key, comparator, float(raw))
    if value_kind != "string":
        raise reader.error(f"{kind}.{key} compares with a quoted string, got {raw}")
    if comparator in (">", ">=", "<", "<="):
        raise reader.error(f"{kind}.{key} is a string: use =, !=, LIKE, ILIKE, IN or NOT IN")
    return Clause(kind, key, comparator, _unquote(value_kind, raw))


def _string_list(reader: _Reader) -> tuple[str, ...]:
    if reader.take() != ("op", "("):
        raise reader.error("IN takes a parenthesised list of strings: ('a', 'b')")
    values = []
    while True:
        kind, raw = reader.take()
        if kind != "string":
            raise reader.error(f"IN lists quoted strings, got {raw}")
        values.append(_unquote(kind, raw))
        token = reader.take()
        if token == ("op", ")"):
            return tuple(values)
        if token != ("op", ","):
            raise reader.error(f"expected , or ) in the IN list, got {token[1]!r}")


def _like(pattern: str, insensitive: bool) -> Callable[[str], bool]:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile(f"^{regex}$", re.DOTALL | (re.IGNORECASE if insensitive else 0))
    return lambda value: compiled.match(value) is not None


def field_of(run: dict[str, Any], kind: str, key: str) -> Any:
    """The value a clause or an ordering reads from a run document (None: the run has none)."""
    if kind == "metrics":
        point = run.get("metrics", {}).get(encode_key(key))
        return None if point is None else loaded_value(point["value"])
    if kind in ("params", "tags"):
        return run.get(kind, {}).get(encode_key(key))
    if key in _NUMERIC_ATTRIBUTES:
        moment = run.get(key)
        # Whole milliseconds, exactly (timestamp() * 1000 can land a hair off), as the store compares.
        return None if moment is None else (moment - _EPOCH) // _MILLISECOND
    return {"run_name": run.get("name"), "run_id": run["_id"], "status": (run.get("status") or "").upper(),
            "user_id": run.get("user"), "experiment_id": run.get("experiment_id"),
            "lifecycle_stage": "active", "artifact_uri": run.get("artifact_uri")}.get(key)


def matches(run: dict[str, Any], clauses: list[Clause]) -> bool:
    return all(_holds(field_of(run, c.kind, c.key), c) for c in clauses)


def _holds(value: Any, clause: Clause) -> bool:
    comparator, wanted = clause.comparator, clause.value
    if comparator == "IS NULL":
        return value is None
    if comparator == "IS NOT NULL":
        return value is not None
    if value is None:
        return False
    if clause.kind == "attributes" and clause.key == "status":  # MLflow spells states in capitals
        wanted = tuple(w.upper() for w in wanted) if isinstance(wanted, tuple) else wanted.upper()
    if comparator == "IN":
        return value in wanted
    if comparator == "NOT IN":
        return value not in wanted
    if comparator in ("LIKE", "ILIKE"):
        return _like(wanted, comparator == "ILIKE")(value)
    if isinstance(value, float) and math.isnan(value):
        return comparator == "!="
    return _COMPARE[comparator](value, wanted)  # only the one asked: "1" > 0.5 would raise


@dataclass(frozen=True)
class Ordering:
    kind: str
    key: str
    descending: bool


def parse_order(items: list[str] | None) -> list[Ordering]:
    """``["metrics.acc DESC", "attributes.start_time"]``; default: newest start first."""
    orderings = []
    for item in items or []:
        text = item.strip()
        descending = False
        upper = text.upper()
        if upper.endswith(" DESC") or upper.endswith(" ASC"):
            descending = upper.endswith(" DESC")
            text = text.rsplit(None, 1)[0]
        reader = _Reader(text)
        kind, key = _identifier(reader)
        if reader.peek() is not None:
            raise InvalidArgument(f"order_by {item!r}: expected an identifier and ASC or DESC")
        if kind == "attributes":
            key = _ATTRIBUTE_ALIASES.get(key, key)
        orderings.append(Ordering(kind, key, descending))
    return orderings or [Ordering("attributes", "start_time", True)]


def ordered(runs: list[dict[str, Any]], orderings: list[Ordering]) -> list[dict[str, Any]]:
    """``runs`` sorted by ``orderings`` (missing values last, whatever the direction), ties by id."""
    result = sorted(runs, key=lambda r: r["_id"])
    for ordering in reversed(orderings):
        present = [r for r in result if field_of(r, ordering.kind, ordering.key) is not None]
        missing = [r for r in result if field_of(r, ordering.kind, ordering.key) is None]
        present.sort(key=lambda r: _sortable(field_of(r, ordering.kind, ordering.key)), reverse=ordering.descending)
        result = present + missing
    return result


def _sortable(value: Any) -> Any:
    return -math.inf if isinstance(value, float) and math.isnan(value) else value


async def find(runs: RunRepository, project: str, experiment_ids: Sequence[str], clauses: list[Clause],
               orderings: list[Ordering], *, skip: int, limit: int, in_store: bool = True) -> list[dict[str, Any]]:
    """At most ``limit`` runs of the experiments matching ``clauses``, in ``orderings`` order, after
    the first ``skip``: from the store when it can say the search exactly, else evaluated here
    over the runs the store narrowed down (``in_store=False``: over every run, all evaluated
    here — the reference the tests compare the store's answers with)."""
    if in_store:
        page = await runs.search(project, experiment_ids, clauses, orderings, skip=skip, limit=limit)
        if page is not None:
            return page
    narrowed = await runs.in_experiments(project, experiment_ids, clauses if in_store else ())
    found = [r for r in narrowed if matches(r, clauses)]
    return ordered(found, orderings)[skip:skip + limit]
