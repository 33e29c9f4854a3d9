"""The OpenAPI document as a client generator needs it (ADR 0033).

FastAPI documents the happy path and its own 422 shape; Patron answers every error in one
envelope. Here the envelope becomes a schema (``Error``), and every API operation lists the
error statuses it can answer with that schema: 401 (no or bad key), 403 (role), 404 (not the
caller's or missing), 409 (conflict, idempotency key reused with another body), 422 (malformed
or refused by a rule), 429 (over a rate limit) and 503 (busy), both with ``Retry-After``, and on
operations that take a body 413 (body too large). FastAPI's ``HTTPValidationError`` goes.
The ``Idempotency-Key`` header has one schema wherever it is taken, required or not (ADR 0034).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from patron.core.http import (
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_WORDS,
)

ERROR_STATUSES = {
    "401": "no API key, or one that is unknown or revoked",
    "403": "the key's role may not do this",
    "404": "no such object for this merchant",
    "409": "a conflict: it exists already, or the key was used with another body",
    "422": "the request is malformed, or a business rule refuses it",
    "429": "over a rate limit: retry after the seconds in Retry-After",
    "503": "the server is busy: retry after the seconds in Retry-After",
}
# Only where a request body is read (ApiBodyLimit, core/body_limit.py).
BODY_TOO_LARGE = ("413", "the request body is larger than this endpoint accepts")
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}
WITH_RETRY_AFTER = ("429", "503")
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable"},
                "message": {"type": "string", "description": "for people"},
                "details": {"description": "what the code needs, e.g. one entry per field"},
            },
        }
    },
}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def install_openapi(
    app: FastAPI,
    prefix: str = "/api/v1",
    examples: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Replace ``app.openapi`` with one that documents the error envelope on every operation
    and puts ``examples[operationId]`` on its JSON request body."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in FASTAPI_VALIDATION:
            schemas.pop(name, None)
        schemas["Error"] = ERROR_SCHEMA
        envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if not path.startswith(prefix):
                    if _fastapi_422(responses):  # its schema is gone; the envelope applies
                        responses["422"] = {"description": ERROR_STATUSES["422"]}
                    continue
                errors = list(ERROR_STATUSES.items())
                if "requestBody" in operation:
                    errors.append(BODY_TOO_LARGE)
                for status, text in sorted(errors):
                    responses[status] = {"description": text, "content": envelope}
                    if status in WITH_RETRY_AFTER:
                        responses[status]["headers"] = RETRY_AFTER
                _one_key_schema(operation)
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body is not None and examples and operation["operationId"] in examples:
                    body["example"] = examples[operation["operationId"]]
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _one_key_schema(operation: dict[str, Any]) -> None:
    """``Idempotency-Key`` is documented alike wherever it is taken; only ``required`` differs
    (FastAPI would add ``null`` to the optional one's schema, which a header cannot carry)."""
    for parameter in operation.get("parameters", []):
        if parameter["name"] == IDEMPOTENCY_KEY_HEADER:
            parameter.update(idempotency_key_parameter(required=parameter.get("required", False)))


def idempotency_key_parameter(required: bool) -> dict[str, Any]:
    """The ``Idempotency-Key`` parameter as every operation that takes it documents it."""
    return {
        "name": IDEMPOTENCY_KEY_HEADER,
        "in": "header",
        "required": required,
        "description": IDEMPOTENCY_KEY_WORDS,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
            "title": IDEMPOTENCY_KEY_HEADER,
        },
    }


def _fastapi_422(responses: dict[str, Any]) -> bool:
    ref = str(responses.get("422", {}).get("content", {}).get("application/json", {}))
    return "HTTPValidationError" in ref
