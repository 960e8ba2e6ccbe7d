"""From a request to the validated inputs an operation's handler declares, and back.

Path variables, the query string and the JSON body are validated by the operation's own
models (the ones its OpenAPI entry is generated from), so what the reference says is what the
gateway enforces. Failures are 400 ``invalid-request`` problems listing every bad input; a
body over the operation's limit is 413 (before it is read when its length is declared), and a
JSON body is read within the bounds of ``limits.py`` (size, nesting) before any model parses it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from lakecache.gateway.http.limits import check_declared_length, read_json_body, with_body_limit
from lakecache.gateway.http.operation import Operation, as_response
from lakecache.gateway.http.problems import FieldError, RequestInvalid


def _validate(model: type[BaseModel], place: str, data: Any) -> BaseModel:
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(place, [FieldError.of(place, e, _hint(model, e["loc"])) for e in exc.errors()]) from None


def _hint(model: type[BaseModel], location: tuple[Any, ...]) -> str | None:
    field = model.model_fields.get(str(location[0])) if len(location) == 1 else None
    return field.description if field else None


def _query(request: web.Request) -> dict[str, str]:
    query = request.query
    repeated = sorted({key for key in query if len(query.getall(key)) > 1})
    if repeated:
        raise RequestInvalid("query", [FieldError(location=f"query.{key}", message="given more than once; give "
                                                  "it once") for key in repeated])
    return dict(query)


async def _body(request: web.Request, operation: Operation) -> bytes:
    raw = await read_json_body(request, operation.max_body)
    # No body means "all defaults": missing required fields are then reported one by one.
    return raw if raw.strip() else b"{}"


def endpoint(operation: Operation):
    """The aiohttp handler of ``operation``: validate inputs, call the handler, shape the answer."""

    async def handle(request: web.Request) -> web.StreamResponse:
        inputs: dict[str, BaseModel] = {}
        if operation.params is not None:
            inputs["params"] = _validate(operation.params, "path", dict(request.match_info))
        if operation.query is not None:
            inputs["query"] = _validate(operation.query, "query", _query(request))
        if operation.body is not None:
            inputs["body"] = _validate(operation.body, "body", await _body(request, operation))
        elif operation.streamed_body is not None:
            check_declared_length(request, operation.max_body)  # the handler streams it: no read here
        return as_response(operation, await operation.handler(request, **inputs))

    handle.__name__ = handle.__qualname__ = operation.operation_id
    handle.__doc__ = operation.summary
    return with_body_limit(handle, operation.max_body)
