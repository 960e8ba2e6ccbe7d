"""The JSON the tracker's API answers for its documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lakecache.tracker.repositories.fields import decoded
from lakecache.tracker.repositories.metrics import Point


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def number(value: float) -> float | str:
    """A metric value in JSON: a number, or ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def experiment_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "project": doc["project"], "name": doc["name"], "tags": decoded(doc.get("tags")),
            "created_by": doc.get("created_by"), "created_at": _time(doc.get("created_at")),
            "updated_at": _time(doc.get("updated_at"))}


def run_json(doc: dict[str, Any]) -> dict[str, Any]:
    code = doc.get("code") or {}
    return {
        "id": doc["_id"], "project": doc["project"], "experiment_id": doc.get("experiment_id"),
        "experiment": doc.get("experiment"), "name": doc.get("name") or "", "user": doc.get("user"),
        "status": doc.get("status"), "start_time": _time(doc.get("start_time")), "end_time": _time(doc.get("end_time")),
        "params": decoded(doc.get("params")), "tags": decoded(doc.get("tags")),
        "metrics": {key: {"value": number(float(p["value"])), "step": p["step"], "timestamp": p["timestamp"]}
                    for key, p in decoded(doc.get("metrics")).items()},
        "code": {"version": code.get("version"), "dirty": code.get("dirty"), "source": code.get("source")},
        "host": doc.get("host"), "site": doc.get("site"), "updated_at": _time(doc.get("updated_at")),
    }


def point_json(point: Point) -> dict[str, Any]:
    return {"step": point.step, "value": number(point.value), "timestamp": point.timestamp}


def input_json(edge: dict[str, Any]) -> dict[str, Any]:
    return {k: edge.get(k) for k in ("dataset_id", "dataset", "commit_id", "site", "volume", "cache_hit", "bytes",
                                     "waited_seconds", "context")} | {"recorded_at": _time(edge.get("recorded_at"))}


def output_json(edge: dict[str, Any]) -> dict[str, Any]:
    return {"kind": edge.get("output_kind"), **{k: edge.get(k) for k in (
        "uri", "name", "dataset_id", "commit_id", "sha256", "size")}, "recorded_at": _time(edge.get("recorded_at"))}
