"""Applying a (validated) inclusion or exclusion projection to a document in Python.

The embedded store projects in Python after fetching; the MongoDB store uses it where
FerretDB lacks projection (findAndModify's ``fields``).
"""

from __future__ import annotations

import copy
from typing import Any


def project(document: dict[str, Any], projection: dict[str, bool] | None) -> dict[str, Any]:
    """Return ``document`` reduced by ``projection`` (``{path: included}``); ``_id`` stays
    unless excluded explicitly."""
    if not projection:
        return document
    keep_id = projection.get("_id", True)
    fields = {path: included for path, included in projection.items() if path != "_id"}
    if all(fields.values()) and (fields or keep_id):
        tree: dict[str, Any] = {}
        for path in fields:
            node = tree
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
                if node is True:
                    break
            else:
                node[leaf] = True
        result = _include(document, tree)
        if keep_id and "_id" in document:
            result = {"_id": document["_id"], **result}
        return result
    result = copy.deepcopy(document)
    for path, included in projection.items():
        if not included:
            *parents, leaf = path.split(".")
            node: Any = result
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(leaf, None)
    return result


def _include(document: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    result = {}
    for key, value in document.items():
        if key not in tree or key == "_id":
            continue
        if tree[key] is True:
            result[key] = copy.deepcopy(value)
        elif isinstance(value, dict):
            result[key] = _include(value, tree[key])
    return result
