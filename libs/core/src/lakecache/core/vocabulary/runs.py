"""What a run is made of, in every service's words: its states, and the names of what it logs.

A run is ``running`` from its start until it ends ``finished``, ``failed`` or ``killed``; the
tracker keeps the state, the gateway maps it to MLflow's (``RUNNING``, ``FINISHED``…).

Keys of params, tags and metrics follow MLflow's rule (letters, digits, ``_ - . / `` and space,
at most 250 characters), so a run logged through the SDK reads the same through the ``mlflow``
client. Batch limits are MLflow's too: a request logs at most 1,000 metric points, 100 params
and 100 tags.
"""

from __future__ import annotations

import re
from typing import Literal

RunState = Literal["running", "finished", "failed", "killed"]
RUN_STATES: tuple[RunState, ...] = ("running", "finished", "failed", "killed")
ENDED_STATES: tuple[RunState, ...] = ("finished", "failed", "killed")

KEY_PATTERN = r"^[\w./\- ]+$"
KEY_MAX = 250
KEY = re.compile(KEY_PATTERN)
PARAM_VALUE_MAX = 6000
TAG_VALUE_MAX = 8000

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100


def is_key(value: object) -> bool:
    return isinstance(value, str) and len(value) <= KEY_MAX and KEY.match(value) is not None
