"""The OpenAPI 3.1 document of a registry, generated from the models its handlers validate with.

OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what pydantic v2 emits, so every model
goes into ``components/schemas`` unchanged: request models in validation mode, responses in
serialization mode (pydantic names the two ``X-Input``/``X-Output`` where they differ). Path
and query models become parameters, one per field. Each operation also carries its
permission (``x-lakecache-permission``) and the problems it may answer, so the reference says
who may call what and how it fails.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lakecache.gateway.auth import ACTIONS, Permission, Scope
from lakecache.gateway.http.operation import Operation, implied_errors
from lakecache.gateway.http.problems import PROBLEM_JSON, Problem
from lakecache.gateway.http.registry import Registry

REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"

_PROBLEM_TITLES = {
    400: "The request's path, query or body is invalid (`errors` lists each input).",
    401: "No valid token: send `Authorization: Bearer <token>`.",
    403: "The token's user or job may not do this (the detail says why).",
    404: "The named object does not exist.",
    409: "The request conflicts with the current state (the detail says which).",
    411: "The request must say how long its body is: send `Content-Length`.",
    412: "A precondition of the request does not hold (the detail says which).",
    413: "The request body is larger than this operation accepts.",
    422: "The request is well formed but cannot be carried out as asked (the detail says why).",
    503: "The gateway's store or a backing service is unavailable; retry later.",
}


def permission_text(permission: Permission | Any) -> str:
    """Who may call an operation, as a sentence (for the reference and the docs page)."""
    if not isinstance(permission, Permission):
        return "Public: answers without a token."
    spec = ACTIONS[permission.action]
    jobs = " Job tokens may too" + (" (their own project and run)." if spec.scope is Scope.PROJECT else ".")
    who = {
        Scope.PROJECT: f"{spec.role} or higher in the project",
        Scope.INSTALLATION: "installation administrators only",
        Scope.AUTHENTICATED: "any signed-in user",
    }[spec.scope]
    return f"Requires `{spec.name}` ({spec.description}): {who}.{jobs if spec.job else ''}"


def _permission_extension(permission: Permission | Any) -> dict[str, Any]:
    if not isinstance(permission, Permission):
        return {"public": True}
    spec = ACTIONS[permission.action]
    return {"action": spec.name, "scope": spec.scope.value, "role": str(spec.role) if spec.role else None,
            "job": spec.job}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema as a parameter's: parameters are absent, never null."""
    variants = schema.get("anyOf")
    if variants and {"type": "null"} in variants:
        rest = [v for v in variants if v != {"type": "null"}]
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **(rest[0] if len(rest) == 1 else
                                                                          {"anyOf": rest})}
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return schema


def _parameters(model: type[BaseModel] | None, where: str, schemas: dict[str, Any], ref: dict[str, str]):
    if model is None:
        return []
    own = schemas[ref["$ref"].rsplit("/", 1)[1]]
    required = set(own.get("required", ()))
    parameters = []
    for name, schema in own["properties"].items():
        schema = _without_null(dict(schema))
        description = schema.pop("description", None)
        schema.pop("title", None)
        parameter = {"name": name, "in": where, "required": where == "path" or name in required, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _responses(operation: Operation, refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, str]]):
    reason = HTTPStatus(operation.status).phrase
    success: dict[str, Any] = {"description": reason}
    if operation.raw_schema is not None:
        success["content"] = {operation.media_type: {"schema": dict(operation.raw_schema)}}
    elif operation.response is not None:
        success["content"] = {"application/json": {"schema": refs[(operation.response, "serialization")]}}
    responses = {str(operation.status): success}
    for status in operation.alternatives:
        responses[str(status)] = {**success, "description": HTTPStatus(status).phrase}
    for status in implied_errors(operation):
        if status not in _PROBLEM_TITLES:  # the document would point at nothing: refuse to start instead
            raise ValueError(f"{operation} declares error {status}, which the API reference does not describe; "
                             "add it to _PROBLEM_TITLES in lakecache/gateway/http/openapi.py")
        responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    responses["default"] = {"$ref": "#/components/responses/default"}
    if operation.error_model is not None:  # errors in the operation's own shape, described in place
        own = _error_responses(refs[(operation.error_model, "serialization")], "application/json", "an error")
        responses.update({status: own[status] for status in responses if status in own})
    return responses


def _error_responses(schema_ref: dict[str, str], media_type: str, what: str) -> dict[str, Any]:
    content = {media_type: {"schema": schema_ref}}
    responses: dict[str, Any] = {str(s): {"description": t, "content": content} for s, t in _PROBLEM_TITLES.items()}
    responses["401"]["headers"] = {"WWW-Authenticate": {
        "description": "`Bearer realm=\"lakecache\"`, with RFC 6750's `error` when a token was sent.",
        "schema": {"type": "string"}}}
    responses["default"] = {"description": f"Any other error, as {what}.", "content": content}
    return responses


def _problem_responses(problem_ref: dict[str, str]) -> dict[str, Any]:
    return _error_responses(problem_ref, PROBLEM_JSON, "a problem document")


def openapi_document(registry: Registry, *, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation in ``registry``."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for operation in registry:
        wanted += [(m, "validation") for m in (operation.params, operation.query, operation.body) if m]
        if operation.response is not None:
            wanted.append((operation.response, "serialization"))
        if operation.error_model is not None:
            wanted.append((operation.error_model, "serialization"))
    refs, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for op in registry:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": "\n\n".join(part for part in (op.description, permission_text(op.permission)) if part),
            "tags": [op.tag],
            "parameters": (_parameters(op.params, "path", schemas, refs.get((op.params, "validation"), {}))
                           + _parameters(op.query, "query", schemas, refs.get((op.query, "validation"), {}))),
            "responses": _responses(op, refs),
            "x-lakecache-permission": _permission_extension(op.permission),
        }
        if op.public:
            entry["security"] = []
        if op.body is not None:
            required = bool(op.body.model_json_schema().get("required"))
            entry["requestBody"] = {"required": required,
                                    "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}
        elif op.streamed_body is not None:
            entry["requestBody"] = {"required": True, "description": op.streamed_body.description,
                                    "content": {op.streamed_body.media_type: {"schema": dict(op.streamed_body.schema)}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
        if op.tag not in tags:
            tags.append(op.tag)

    # Path and query models live on as parameters; keep only schemas something still refers to.
    used_as_parameters = {refs[(m, "validation")]["$ref"] for o in registry for m in (o.params, o.query) if m}
    others = {refs[k]["$ref"] for k in refs if refs[k]["$ref"] not in used_as_parameters}
    for ref in used_as_parameters - others:
        schemas.pop(ref.rsplit("/", 1)[1], None)

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": _problem_responses(refs[(Problem, "serialization")]),
            "securitySchemes": {SECURITY_SCHEME: {
                "type": "http", "scheme": "bearer", "bearerFormat": "lct_…",
                "description": "A LakeCache token: a user's (`POST /api/v1/tokens`), a job's, or the administrator "
                               "token the gateway writes to `<home>/admin-token` on first start."}},
        },
        "security": [{SECURITY_SCHEME: []}],
    }
