"""Param, tag and metric keys as document field names.

MLflow keys may contain ``.``, which a document key may not; ``%`` is in no valid key, so
``.`` is written ``%2E`` and read back without ambiguity.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def encode_key(key: str) -> str:
    return key.replace(".", "%2E")


def decode_key(field: str) -> str:
    return field.replace("%2E", ".")


def decoded(mapping: dict[str, Any] | None) -> dict[str, Any]:
    return {decode_key(k): v for k, v in (mapping or {}).items()}


def stored_value(value: float) -> float | str:
    """A metric value as documents hold it: JSON and BSON subsets have no NaN or infinity
    everywhere, so those are kept by name."""
    if math.isfinite(value):
        return float(value)
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def loaded_value(value: float | str) -> float:
    return float(value)  # float() reads "NaN", "Infinity" and "-Infinity"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
