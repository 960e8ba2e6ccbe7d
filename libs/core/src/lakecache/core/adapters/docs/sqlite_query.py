"""How the embedded store keeps documents in SQLite and turns filters and sorts into SQL.

Encoding: a document is one JSON text. JSON has no datetime or bytes, so a datetime is stored
as ``{"$date": <ms since epoch>}`` and bytes as ``{"$binary": "<base64>"}``; document keys
cannot start with ``$``, so these markers are never ambiguous.

Translation keeps MongoDB's semantics inside SQL, so filtering never happens in Python:

* Type bracketing: SQLite would happily compare a string with a number, and ``json_extract``
  turns JSON ``true`` into the integer 1, so every comparison also checks ``json_type``.
* Arrays: ``{"tags": "x"}`` matches when ``tags`` is ``"x"`` or an array containing it, and
  ``{"inputs.commit": c}`` walks into arrays of sub-documents; both need a ``json_each``
  sub-query. Such an ``OR EXISTS (…)`` keeps SQLite from using an index, so the store records
  which paths have ever held an array in a collection and adds the array branch only for
  those. A path that never held an array compiles to a plain ``json_extract(doc, '$."k"') = ?``,
  which uses the expression index ``create_index`` built on the very same text.
* Negations (``$ne``, ``$nin``, ``$exists: false``) wrap the positive condition in
  ``NOT COALESCE(…, 0)`` because SQL's NULL would otherwise make "missing" match nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Container
from datetime import datetime
from typing import Any

from .subset import is_operator_dict
from .values import datetime_to_ms, is_number, ms_to_datetime

DATE = "$date"
BINARY = "$binary"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {DATE: datetime_to_ms(value)}
    if isinstance(value, bytes):
        return {BINARY: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if DATE in obj:
            return ms_to_datetime(obj[DATE])
        if BINARY in obj:
            return base64.b64decode(obj[BINARY])
    return obj


def encode_document(document: dict[str, Any]) -> str:
    """The JSON text stored for a (validated) document."""
    return json.dumps(document, default=_default, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def decode_document(text: str) -> dict[str, Any]:
    """The document a stored JSON text holds."""
    return json.loads(text, object_hook=_hook)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def path_suffix(parts: list[str]) -> str:
    """The JSON-path text for ``parts`` without the leading ``$`` (components are checked to
    contain no ``"``)."""
    return "".join(f'."{part}"' for part in parts)


def json_path(parts: list[str]) -> str:
    """The SQL literal for the JSON path of ``parts``; identical text in indexes and queries."""
    return _literal("$" + path_suffix(parts))


def index_expression(path: str) -> str:
    """The indexed expression for a field path (``create_index`` and queries share it)."""
    if path == "_id":
        return "_id"
    return f"json_extract(doc, {json_path(path.split('.'))})"


def sort_expression(path: str) -> str:
    """What a sort on ``path`` orders by: a datetime is stored as ``{"$date": ms}``, so by the
    number; any other value as it is. ``create_index`` indexes this text too, so a sort can
    walk an index instead of sorting the whole collection."""
    if path == "_id":
        return "_id"
    parts = path.split(".")
    date = _literal("$" + path_suffix(parts) + '."$date"')
    return f"COALESCE(json_extract(doc, {date}), json_extract(doc, {json_path(parts)}))"


def order_by(sort: list[tuple[str, int]] | None) -> str:
    """``ORDER BY`` for a sort, ending with ``_id`` so the order is total."""
    terms = []
    for path, direction in sort or []:
        terms.append(sort_expression(path) + (" DESC" if direction == -1 else ""))
    if not any(path == "_id" for path, _ in sort or []):
        terms.append("_id")
    return "ORDER BY " + ", ".join(terms)


class _Source:
    """SQL expressions for a value under test: a field of ``doc`` or an array element."""

    def __init__(self, value: str, type_: str, date: str, *, may_be_missing: bool) -> None:
        self.value, self.type, self.date, self.may_be_missing = value, type_, date, may_be_missing


class FilterTranslator:
    """Turns one validated filter into ``(sql, params)`` for a ``WHERE`` clause."""

    def __init__(self, array_paths: Container[str]) -> None:
        self._arrays = array_paths
        self._params: list[Any] = []
        self._aliases = 0

    def where(self, filter: dict[str, Any]) -> tuple[str, list[Any]]:
        self._params = []
        return self._filter(filter), self._params

    def _filter(self, filter: dict[str, Any]) -> str:
        terms = []
        for key, condition in filter.items():
            if key in ("$and", "$or"):
                clauses = [self._filter(clause) for clause in condition]
                terms.append("(" + f" {key[1:].upper()} ".join(clauses) + ")")
            elif is_operator_dict(condition):
                terms.extend(self._operator(key, op, arg) for op, arg in condition.items())
            else:
                terms.append(self._operator(key, "$eq", condition))
        return " AND ".join(terms) if terms else "1"

    def _operator(self, path: str, operator: str, argument: Any) -> str:
        if path == "_id":
            return self._id_operator(operator, argument)
        parts = path.split(".")
        if operator == "$eq":
            return self._field(parts, lambda s: self._equal(s, argument))
        if operator == "$ne":
            return f"NOT COALESCE({self._field(parts, lambda s: self._equal(s, argument))}, 0)"
        if operator == "$in":
            return self._field(parts, lambda s: self._in(s, argument))
        if operator == "$nin":
            return f"NOT COALESCE({self._field(parts, lambda s: self._in(s, argument))}, 0)"
        if operator == "$exists":
            present = self._field(parts, lambda s: f"{s.type} IS NOT NULL")
            return present if argument else f"NOT COALESCE({present}, 0)"
        sql_operator = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[operator]
        return self._field(parts, lambda s: self._compare(s, sql_operator, argument))

    def _id_operator(self, operator: str, argument: Any) -> str:
        if operator == "$exists":
            return "1" if argument else "0"
        if operator in ("$in", "$nin"):
            if not argument:
                return "0" if operator == "$in" else "1"
            self._params.extend(argument)
            marks = ", ".join("?" * len(argument))
            return f"_id {'NOT ' if operator == '$nin' else ''}IN ({marks})"
        self._params.append(argument)
        sql_operator = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
        return f"_id {sql_operator[operator]} ?"

    # -- walking a path, with array branches where arrays have been seen -----------------------

    def _field(self, parts: list[str], leaf) -> str:
        return self._walk(None, "", "", parts, leaf)

    def _path_sql(self, base: str | None, suffix: str) -> str:
        return _literal("$" + suffix) if base is None else f"({base} || {_literal(suffix)})"

    def _walk(self, base: str | None, suffix: str, dotted: str, rest: list[str], leaf) -> str:
        for i, part in enumerate(rest):
            suffix += f'."{part}"'
            dotted = f"{dotted}.{part}" if dotted else part
            if dotted not in self._arrays:
                continue
            path = self._path_sql(base, suffix)
            alias = self._alias()
            remaining = rest[i + 1:]
            if remaining:
                # The value here may be an array of sub-documents: test each element's field.
                direct = self._walk(base, suffix, dotted, remaining, leaf)
                inner = self._walk(f"{alias}.fullkey", "", dotted, remaining, leaf)
                return (f"((json_type(doc, {path}) IS NOT 'array' AND {direct}) OR "
                        f"(json_type(doc, {path}) = 'array' AND EXISTS (SELECT 1 FROM "
                        f"json_each(doc, {path}) AS {alias} WHERE {alias}.type = 'object' AND {inner})))")
            direct = leaf(self._top(base, suffix))
            element = leaf(_Source(f"{alias}.value", f"{alias}.type",
                                   f"json_extract(doc, {alias}.fullkey || '.\"$date\"')",
                                   may_be_missing=False))
            return (f"({direct} OR (json_type(doc, {path}) = 'array' AND EXISTS (SELECT 1 FROM "
                    f"json_each(doc, {path}) AS {alias} WHERE {element})))")
        return leaf(self._top(base, suffix))

    def _top(self, base: str | None, suffix: str) -> _Source:
        path = self._path_sql(base, suffix)
        date = self._path_sql(base, suffix + '."$date"')
        return _Source(f"json_extract(doc, {path})", f"json_type(doc, {path})",
                       f"json_extract(doc, {date})", may_be_missing=True)

    def _alias(self) -> str:
        self._aliases += 1
        return f"e{self._aliases}"

    # -- leaf conditions ---------------------------------------------------------------------

    def _equal(self, source: _Source, value: Any) -> str:
        if value is None:
            if source.may_be_missing:
                return f"({source.type} IS NULL OR {source.type} = 'null')"
            return f"{source.type} = 'null'"
        if isinstance(value, bool):
            return f"{source.type} = '{'true' if value else 'false'}'"
        return self._compare(source, "=", value)

    def _compare(self, source: _Source, sql_operator: str, value: Any) -> str:
        if isinstance(value, datetime):
            self._params.append(datetime_to_ms(value))
            return f"{source.date} {sql_operator} ?"
        self._params.append(value)
        kinds = "IN ('integer', 'real')" if is_number(value) else "= 'text'"
        return f"({source.type} {kinds} AND {source.value} {sql_operator} ?)"

    def _in(self, source: _Source, values: list[Any]) -> str:
        if not values:
            return "0"
        terms = []
        strings = [v for v in values if isinstance(v, str)]
        if strings:
            # One IN list keeps an index usable for the common "one of these names" query.
            self._params.extend(strings)
            terms.append(f"({source.type} = 'text' AND {source.value} IN ({', '.join('?' * len(strings))}))")
        terms.extend(self._equal(source, v) for v in values if not isinstance(v, str))
        return "(" + " OR ".join(terms) + ")"
