"""The cacher's problem types, on top of the shared ones (``lakecache.core.runtime.problems``)."""

from __future__ import annotations

from lakecache.cacher.storage import WrongSite
from lakecache.core.errors import PreconditionFailed
from lakecache.core.runtime.problems import ProblemType
from lakecache.core.runtime.problems import problem_middleware as _problem_middleware


class NotReady(PreconditionFailed):
    """The copy is not ready (a lease needs a ready copy)."""


CACHER_PROBLEMS = (
    ProblemType(WrongSite, 404, "wrong-site", "Site served elsewhere"),
    ProblemType(NotReady, 409, "copy-not-ready", "Copy not ready"),
)

problem_middleware = _problem_middleware("cacher", CACHER_PROBLEMS)
