"""The tracker's problem types, on top of the shared ones (``lakecache.core.runtime.problems``)."""

from __future__ import annotations

from lakecache.core.runtime.problems import ProblemType
from lakecache.core.runtime.problems import problem_middleware as _problem_middleware
from lakecache.tracker.artifacts import ArtifactTooLarge

TRACKER_PROBLEMS = (ProblemType(ArtifactTooLarge, 413, "artifact-too-large", "Artifact too large"),)

problem_middleware = _problem_middleware("tracker", TRACKER_PROBLEMS)
