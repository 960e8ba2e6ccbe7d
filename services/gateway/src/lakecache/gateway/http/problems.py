"""The gateway's RFC 9457 problems: the shared ones plus invalid requests and oversized bodies.

A request that fails its models answers 400 ``invalid-request`` with one ``errors`` entry per
offending input (``body.name``, ``query.limit``, ``path.project``), each saying what was
expected, so a client can point at the field instead of guessing from one sentence.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lakecache.core.errors import InvalidArgument, LakeCacheError
from lakecache.core.runtime.problems import ProblemType, problem_middleware

PROBLEM_JSON = "application/problem+json"
#: Pydantic errors whose message states a rule (a regular expression) rather than its meaning.
_BARE_RULES = frozenset({"string_pattern_mismatch", "literal_error"})


class FieldError(BaseModel):
    """One input that failed validation."""

    location: str = Field(description="Where the input is: `body.<field>`, `query.<name>` or `path.<name>`.")
    message: str = Field(description="What is wrong with it, and what is expected.")

    @classmethod
    def of(cls, place: str, error: Any, hint: str | None = None) -> FieldError:
        """One pydantic error (``ValidationError.errors()`` item) of the input at ``place``;
        ``hint`` (the field's description) is added where pydantic's message is a bare rule."""
        message = _message(error)
        if hint and error["type"] in _BARE_RULES:
            message = f"{message} ({hint})"
        return cls(location=_location(place, error), message=message)


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URN naming the kind of problem, e.g. `urn:lakecache:problem:not-found`.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, and what to do about it.")
    instance: str = Field(description="The request path.")
    request_id: str | None = Field(None, description="The request's id (also in the `X-Request-Id` header).")
    errors: list[FieldError] | None = Field(None, description="Each invalid input (invalid-request problems).")


class RequestInvalid(InvalidArgument):
    """The request's path, query or body does not fit the operation's models."""

    def __init__(self, place: str, errors: list[FieldError]) -> None:
        self.errors = errors
        listed = "; ".join(f"{e.location}: {e.message}" for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"the request {place} is invalid: {listed}{more}")


class PayloadTooLarge(LakeCacheError):
    """The request body exceeds the operation's limit."""


def _location(place: str, error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"])
    return f"{place}.{path}" if path else place


def _message(error: Any) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field; check its spelling against the API reference (/api/v1/docs)"
    if error["type"] == "missing":
        return "required, but missing"
    return message


def _extensions(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, RequestInvalid):
        return {"errors": [e.model_dump() for e in exc.errors]}
    return {}


GATEWAY_PROBLEMS = (
    ProblemType(RequestInvalid, 400, "invalid-request", "Invalid request"),
    ProblemType(PayloadTooLarge, 413, "payload-too-large", "Request body too large"),
)


def gateway_problem_middleware():
    """The problem middleware of the gateway (install it inside the auth middleware)."""
    return problem_middleware("gateway", GATEWAY_PROBLEMS, _extensions)
