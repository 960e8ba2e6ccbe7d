"""Rules of the code's shape that a review would otherwise have to remember.

* Services speak their domain: only repository modules (and the document-store adapters and the
  outbox, which implement the port) write the document store's query language — MongoDB
  operators such as ``"$set"`` or ``"$lt"``.
* Every event type some service consumes has a producer in the code, or is listed below as
  produced outside it, with the reason.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from lakecache.core.contracts import EVENTS
from lakecache.core.contracts.base import EventData

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "services").glob("*/src")), ROOT / "clients" / "src", ROOT / "libs" / "core" / "src"]

#: MongoDB's query, update and aggregation operators (what the document-store port speaks).
OPERATORS = frozenset(f"${name}" for name in (
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "type", "regex", "and", "or", "nor", "not",
    "all", "elemMatch", "size", "mod", "set", "unset", "inc", "min", "max", "mul", "rename", "setOnInsert",
    "currentDate", "push", "pull", "pullAll", "addToSet", "each", "pop", "position", "slice", "sort", "match",
    "group", "sum", "count", "limit", "skip", "project", "unwind", "addFields", "lookup", "facet", "avg",
))


def allowed_to_speak_the_store(path: Path) -> bool:
    parts = path.parts
    return ("repositories" in parts or ("adapters" in parts and "core" in parts)
            or path.name == "outbox.py" and "core" in parts)


def operator_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{where}:{node.lineno} {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OPERATORS]


def test_only_repositories_and_adapters_write_the_document_stores_query_language():
    found = [hit for source in SOURCES for path in sorted(source.rglob("*.py"))
             if not allowed_to_speak_the_store(path) for hit in operator_literals(path)]
    assert found == [], "move these into a repository (lakecache/<service>/repositories/):\n" + "\n".join(found)


def test_the_scan_sees_an_operator_literal_where_there_is_one(tmp_path):
    planted = tmp_path / "domain.py"
    planted.write_text('def f(c):\n    return c.update_one({"_id": 1}, {"$set": {"x": 1}, "$ref": "not one"})\n')
    assert [hit.rsplit(" ", 1)[1] for hit in operator_literals(planted)] == ["'$set'"]
    assert not allowed_to_speak_the_store(planted)
    assert allowed_to_speak_the_store(ROOT / "services/catalog/src/lakecache/catalog/repositories/datasets.py")


#: Consumed event types whose producer is not in this repository's code, and why.
PRODUCED_ELSEWHERE: dict[str, str] = {}

CONSUMERS = {
    "catalog": ("lakecache.catalog.handlers", "HANDLERS"),
    "cacher": ("lakecache.cacher.handlers", "HANDLERS"),
    "gateway": ("lakecache.gateway.copies.handlers", "HANDLERS"),
    "evictor": ("lakecache.evictor.translate", "CONSUMED"),
}


def consumed_types() -> dict[str, set[str]]:
    consumed: dict[str, set[str]] = {}
    for service, (module, name) in CONSUMERS.items():
        table = getattr(importlib.import_module(module), name)
        for model in table:
            consumed.setdefault(model.event_type, set()).add(service)
    return consumed


def contract_names(tree: ast.Module) -> set[str]:
    """The names a module imports from ``lakecache.core.contracts`` (payload classes, contract modules)."""
    return {alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lakecache.core.contracts")
            for alias in node.names}


def constructed_in(tree: ast.Module, names: set[str]) -> set[str]:
    """Which of the payload class ``names`` the module constructs: a call of the class imported from
    the contracts (``VolumeReported(...)``, ``cache.VolumeReported(...)``), not of a class that only
    shares its name (the evictor's policy fact ``policy.VolumeReported(...)``)."""
    imported = contract_names(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in imported:
                found.add(func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in imported:
                found.add(func.attr)
    return found & names


def constructed_event_classes() -> set[str]:
    """Names of event payload classes the source code constructs (a call of the class)."""
    names = {model.__name__ for model in EVENTS.types().values()}
    return {name for source in SOURCES for path in source.rglob("*.py")
            for name in constructed_in(ast.parse(path.read_text()), names)}


def test_a_class_that_only_shares_a_payloads_name_is_no_producer():
    tree = ast.parse("from lakecache.evictor import policy\nfrom lakecache.core.contracts.cache import CacheReady\n"
                     "policy.VolumeReported(site='s')\nCacheReady()\n")
    assert constructed_in(tree, {"VolumeReported", "CacheReady"}) == {"CacheReady"}


def test_every_consumed_event_type_has_a_producer():
    by_name = {model.__name__: event_type for event_type, model in EVENTS.types().items()}
    produced = {by_name[name] for name in constructed_event_classes()}
    orphans = {t: sorted(who) for t, who in consumed_types().items() if t not in produced and t not in
               PRODUCED_ELSEWHERE}
    assert orphans == {}, f"consumed but never produced (add the producer, or say where it comes from): {orphans}"


def test_events_said_to_be_produced_elsewhere_are_still_consumed_and_still_not_produced_here():
    by_name = {model.__name__: event_type for event_type, model in EVENTS.types().items()}
    produced = {by_name[name] for name in constructed_event_classes()}
    consumed = consumed_types()
    stale = [t for t in PRODUCED_ELSEWHERE if t not in consumed or t in produced]
    assert stale == [], f"remove from PRODUCED_ELSEWHERE: {stale}"
    assert all(issubclass(model, EventData) for model in EVENTS.types().values())
