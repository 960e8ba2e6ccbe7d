"""The MongoDB subset every document-store adapter accepts, checked before any I/O.

Both adapters call these checks, so a filter, update, sort, projection or pipeline that would
work on real MongoDB but not on FerretDB (or not on the embedded store) fails the same way
everywhere: with InvalidArgument naming the operator and what to use instead. Why each rule
exists is recorded in docs/adapters/document-store.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lakecache.core.errors import InvalidArgument

from .values import check_path, check_scalar, check_value, comparable_kind, is_number

COMPARISON_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"})
RANGE_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})
LOGICAL_OPERATORS = frozenset({"$and", "$or"})
UPDATE_OPERATORS = frozenset({
    "$set", "$unset", "$inc", "$setOnInsert", "$push", "$addToSet", "$pull", "$min", "$max",
    "$currentDate",
})
STAGES = frozenset({
    "$match", "$group", "$sort", "$limit", "$skip", "$project", "$unwind", "$count",
    "$addFields", "$set", "$unset",
})
ACCUMULATORS = frozenset({"$sum", "$count"})


def _unsupported(kind: str, operator: str, allowed: frozenset[str], hint: str = "") -> InvalidArgument:
    return InvalidArgument(
        f"{kind} {operator!r} is outside the supported MongoDB subset (it must also run on "
        f"FerretDB and the embedded store); use one of {', '.join(sorted(allowed))}{hint}"
    )


# -- filters ------------------------------------------------------------------------------------

def check_filter(filter: Any, *, where: str = "filter") -> dict[str, Any]:
    """Validate a filter; return it as a dict (``None`` means ``{}``)."""
    if filter is None:
        return {}
    if not isinstance(filter, Mapping):
        raise InvalidArgument(f"{where} must be a dict, got {type(filter).__name__}")
    for key, condition in filter.items():
        if isinstance(key, str) and key.startswith("$"):
            if key not in LOGICAL_OPERATORS:
                raise _unsupported("filter operator", key, LOGICAL_OPERATORS | COMPARISON_OPERATORS)
            if not isinstance(condition, list) or not condition:
                raise InvalidArgument(f"{where}: {key} takes a non-empty list of filters")
            for clause in condition:
                check_filter(clause, where=f"{where}.{key}")
            continue
        check_path(key, where)
        _check_condition(key, condition, f"{where}.{key}")
    return dict(filter)


def is_operator_dict(condition: Any) -> bool:
    return isinstance(condition, Mapping) and any(
        isinstance(k, str) and k.startswith("$") for k in condition
    )


def _check_condition(path: str, condition: Any, where: str) -> None:
    if not is_operator_dict(condition):
        _check_comparand(path, condition, where)
        return
    for operator, argument in condition.items():
        if operator not in COMPARISON_OPERATORS:
            raise _unsupported("filter operator", operator, COMPARISON_OPERATORS)
        here = f"{where}.{operator}"
        if operator == "$exists":
            if not isinstance(argument, bool):
                raise InvalidArgument(f"{here} takes true or false, got {argument!r}")
        elif operator in ("$in", "$nin"):
            if not isinstance(argument, list):
                raise InvalidArgument(f"{here} takes a list, got {type(argument).__name__}")
            for item in argument:
                _check_comparand(path, item, here)
        else:
            _check_comparand(path, argument, here)
            if operator in RANGE_OPERATORS and comparable_kind(argument) is None:
                raise InvalidArgument(
                    f"{here}: range operators take a number, string or datetime, got {argument!r}"
                )


def _check_comparand(path: str, value: Any, where: str) -> None:
    check_scalar(value, where)
    if path == "_id" and not isinstance(value, str):
        raise InvalidArgument(f"{where}: _id values are strings, got {value!r}")


def upsert_seed(filter: Mapping[str, Any]) -> dict[str, Any]:
    """The document an upsert starts from: the filter's top-level equality fields, with
    dotted paths expanded into sub-documents (what MongoDB and FerretDB both do)."""
    seed: dict[str, Any] = {}
    for key, condition in filter.items():
        if key in LOGICAL_OPERATORS:
            raise InvalidArgument(
                f"an upsert's filter must not use {key}: MongoDB and FerretDB disagree on which "
                "fields of it the new document gets; put equality fields at the top level"
            )
        if is_operator_dict(condition):
            if "$eq" not in condition:
                continue
            condition = condition["$eq"]
        target = seed
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = condition
    return seed


# -- updates ------------------------------------------------------------------------------------

def check_update(update: Any) -> dict[str, dict[str, Any]]:
    """Validate an update document (operators only); return it as a dict."""
    if not isinstance(update, Mapping) or not update:
        raise InvalidArgument("update must be a non-empty dict of update operators, e.g. {'$set': {...}}")
    seen: list[tuple[str, str]] = []
    for operator, fields in update.items():
        if not isinstance(operator, str) or not operator.startswith("$"):
            raise InvalidArgument(
                f"update key {operator!r} is not an operator; updates use operators such as "
                "$set (to replace a whole document use replace_one)"
            )
        if operator not in UPDATE_OPERATORS:
            raise _unsupported("update operator", operator, UPDATE_OPERATORS)
        if not isinstance(fields, Mapping) or not fields:
            raise InvalidArgument(f"{operator} takes a non-empty dict of field paths")
        for path, argument in fields.items():
            where = f"update.{operator}.{path}"
            check_path(path, f"update.{operator}")
            if path.split(".")[0] == "_id" and operator != "$setOnInsert":
                raise InvalidArgument(f"{where}: _id cannot be changed by an update")
            _check_update_argument(operator, argument, where)
            for other_path, other_operator in seen:
                if path == other_path or path.startswith(other_path + ".") or other_path.startswith(path + "."):
                    raise InvalidArgument(
                        f"update paths conflict: {other_operator} {other_path!r} and {operator} {path!r} "
                        "touch the same field"
                    )
            seen.append((path, operator))
    return {op: dict(fields) for op, fields in update.items()}


def _check_update_argument(operator: str, argument: Any, where: str) -> None:
    if operator in ("$set", "$setOnInsert"):
        check_value(argument, where)
        if where.endswith("._id") and not (isinstance(argument, str) and argument):
            raise InvalidArgument(f"{where}: _id must be a non-empty string")
    elif operator == "$inc":
        if not is_number(argument):
            raise InvalidArgument(f"{where}: $inc takes a number, got {argument!r}")
        check_value(argument, where)
    elif operator in ("$min", "$max"):
        if comparable_kind(argument) is None:
            raise InvalidArgument(f"{where}: {operator} takes a number, string or datetime")
        check_value(argument, where)
    elif operator == "$currentDate":
        if argument is not True and argument != {"$type": "date"}:
            raise InvalidArgument(f"{where}: $currentDate takes true or {{'$type': 'date'}}")
    elif operator in ("$push", "$addToSet"):
        for item in each_items(argument, operator, where):
            check_value(item, where, in_list=True)
    elif operator == "$pull":
        check_scalar(argument, f"{where} ($pull removes elements equal to a scalar)")


def each_items(argument: Any, operator: str, where: str) -> list[Any]:
    """The elements a $push/$addToSet appends: the value itself, or the list under ``$each``."""
    if is_operator_dict(argument):
        if set(argument) != {"$each"}:
            extra = sorted(set(argument) - {"$each"})
            raise _unsupported(f"{operator} modifier", extra[0] if extra else "?", frozenset({"$each"}))
        if not isinstance(argument["$each"], list):
            raise InvalidArgument(f"{where}: $each takes a list")
        return argument["$each"]
    return [argument]


# -- sort, projection, indexes -------------------------------------------------------------------

def check_sort(sort: Any, *, where: str = "sort") -> list[tuple[str, int]] | None:
    """Validate ``[(path, 1 | -1), ...]``; return it as a list of tuples (``None`` if empty)."""
    if sort is None:
        return None
    if isinstance(sort, Mapping):
        sort = list(sort.items())
    if isinstance(sort, str | bytes) or not isinstance(sort, Sequence):
        raise InvalidArgument(f"{where} must be a list of (field, 1 | -1) pairs, got {sort!r}")
    result = []
    for item in sort:
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise InvalidArgument(f"{where} must be a list of (field, 1 | -1) pairs, got item {item!r}")
        path, direction = item
        check_path(path, where)
        if direction not in (1, -1) or isinstance(direction, bool):
            raise InvalidArgument(f"{where}: direction of {path!r} must be 1 or -1, got {direction!r}")
        result.append((path, direction))
    return result or None


def check_index_keys(keys: Any) -> list[tuple[str, int]]:
    result = check_sort(keys, where="index keys")
    if not result:
        raise InvalidArgument("index keys must name at least one (field, 1 | -1) pair")
    if len({path for path, _ in result}) != len(result):
        raise InvalidArgument(f"index keys name a field twice: {result!r}")
    return result


def check_projection(projection: Any, *, where: str = "projection") -> dict[str, bool] | None:
    """Validate ``{path: 0|1}`` (not mixing inclusion and exclusion except for ``_id``);
    return ``{path: included}``."""
    if projection is None:
        return None
    if not isinstance(projection, Mapping) or not projection:
        raise InvalidArgument(f"{where} must be a non-empty dict of field paths to 0 or 1")
    result: dict[str, bool] = {}
    for path, flag in projection.items():
        check_path(path, where)
        if flag not in (0, 1):
            raise InvalidArgument(
                f"{where}.{path}: only 0/1 (or false/true) are supported, got {flag!r}; "
                "computed fields are outside the subset"
            )
        result[path] = bool(flag)
    modes = {included for path, included in result.items() if path != "_id"}
    if len(modes) > 1:
        raise InvalidArgument(f"{where} mixes inclusion and exclusion: {dict(projection)!r}")
    return result


# -- aggregation ---------------------------------------------------------------------------------

def check_pipeline(pipeline: Any) -> list[dict[str, Any]]:
    """Validate an aggregation pipeline stage by stage; return it as a list."""
    if isinstance(pipeline, Mapping | str) or not isinstance(pipeline, Sequence):
        raise InvalidArgument("pipeline must be a list of stages")
    for number, stage in enumerate(pipeline):
        if not isinstance(stage, Mapping) or len(stage) != 1:
            raise InvalidArgument(f"pipeline stage {number} must be a dict with exactly one key")
        (name, argument), = stage.items()
        if name not in STAGES:
            raise _unsupported("aggregation stage", name, STAGES)
        _check_stage(name, argument, f"pipeline stage {number} ({name})")
    return [dict(stage) for stage in pipeline]


def _check_stage(name: str, argument: Any, where: str) -> None:
    if name == "$match":
        check_filter(argument, where=where)
    elif name == "$sort":
        if not isinstance(argument, Mapping) or not argument:
            raise InvalidArgument(f"{where} takes a non-empty dict of field: 1 | -1")
        check_sort(argument, where=where)
    elif name in ("$limit", "$skip"):
        if not isinstance(argument, int) or isinstance(argument, bool) or argument < (1 if name == "$limit" else 0):
            raise InvalidArgument(f"{where} takes a {'positive' if name == '$limit' else 'non-negative'} integer")
    elif name == "$project":
        check_projection(argument, where=where)
    elif name == "$unwind":
        if not isinstance(argument, str) or not argument.startswith("$"):
            raise InvalidArgument(
                f"{where} takes a field reference such as '$tags' (the document form is not "
                "supported by FerretDB)"
            )
        check_path(argument[1:], where)
    elif name == "$count":
        if not isinstance(argument, str):
            raise InvalidArgument(f"{where} takes the output field name")
        check_path(argument, where)
        if "." in argument:
            raise InvalidArgument(f"{where}: the output field must not contain '.'")
    elif name in ("$addFields", "$set"):
        if not isinstance(argument, Mapping) or not argument:
            raise InvalidArgument(f"{where} takes a non-empty dict of field: value")
        for path, value in argument.items():
            check_path(path, where)
            if "." in path:
                raise InvalidArgument(f"{where}: {path!r}: only top-level fields can be set (FerretDB "
                                      "stores dotted names literally)")
            if isinstance(value, Mapping | list) or (isinstance(value, str) and value.startswith("$")):
                raise InvalidArgument(
                    f"{where}.{path}: only literal scalar values are supported (FerretDB does not "
                    "evaluate expressions or field references here)"
                )
            check_scalar(value, f"{where}.{path}")
    elif name == "$unset":
        paths = [argument] if isinstance(argument, str) else argument
        if not isinstance(paths, list) or not paths:
            raise InvalidArgument(f"{where} takes a field path or a list of them")
        for path in paths:
            check_path(path, where)
    elif name == "$group":
        _check_group(argument, where)


def _check_group(argument: Any, where: str) -> None:
    if not isinstance(argument, Mapping) or "_id" not in argument:
        raise InvalidArgument(f"{where} takes a dict with an _id")
    key = argument["_id"]
    if isinstance(key, Mapping):
        for name, reference in key.items():
            check_path(name, where)
            _check_reference(reference, f"{where}._id.{name}")
    elif key is not None:
        _check_reference(key, f"{where}._id")
    accumulators = {k: v for k, v in argument.items() if k != "_id"}
    if len(accumulators) != 1:
        raise InvalidArgument(
            f"{where}: exactly one accumulator field is supported (FerretDB v1.24 computes only "
            "the first one of several); run one pipeline per sum"
        )
    (out, spec), = accumulators.items()
    check_path(out, where)
    if "." in out:
        raise InvalidArgument(f"{where}: output field {out!r} must not contain '.'")
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise InvalidArgument(f"{where}.{out} takes one accumulator, e.g. {{'$sum': 1}}")
    (accumulator, operand), = spec.items()
    if accumulator not in ACCUMULATORS:
        raise _unsupported("$group accumulator", accumulator, ACCUMULATORS)
    if accumulator == "$count" and operand != {}:
        raise InvalidArgument(f"{where}.{out}: $count takes {{}}")
    if accumulator == "$sum" and not is_number(operand):
        _check_reference(operand, f"{where}.{out}.$sum")


def _check_reference(reference: Any, where: str) -> None:
    if not isinstance(reference, str) or not reference.startswith("$"):
        raise InvalidArgument(f"{where}: expected a field reference such as '$name', got {reference!r}")
    check_path(reference[1:], where)


def check_window(skip: int, limit: int) -> None:
    """``find``'s skip and limit: non-negative integers (0 means no limit)."""
    for label, value in (("skip", skip), ("limit", limit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidArgument(f"find: {label} must be a non-negative integer, got {value!r}")
