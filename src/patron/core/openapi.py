"""The OpenAPI document as a client generator needs it (ADR 0033).

FastAPI documents the happy path and its own 422 shape; Patron answers every error in one
envelope. Here the envelope becomes a schema (``Error``), and every API operation lists the
error statuses it can answer with that schema: 401 (no or bad key), 403 (role), 404 (not the
caller's or missing), 409 (conflict, idempotency key reused with another body), 422 (malformed
or refused by a rule) and 429 (too many attempts). FastAPI's ``HTTPValidationError`` goes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_STATUSES = {
    "401": "no API key, or one that is unknown or revoked",
    "403": "the key's role may not do this",
    "404": "no such object for this merchant",
    "409": "a conflict: it exists already, or the key was used with another body",
    "422": "the request is malformed, or a business rule refuses it",
    "429": "too many attempts: wait for Retry-After seconds",
}
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


def install_openapi(app: FastAPI, prefix: str = "/api/v1") -> None:
    """Replace ``app.openapi`` with one that documents the error envelope on every operation."""

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
                for status, text in ERROR_STATUSES.items():
                    responses[status] = {"description": text, "content": envelope}
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _fastapi_422(responses: dict[str, Any]) -> bool:
    ref = str(responses.get("422", {}).get("content", {}).get("application/json", {}))
    return "HTTPValidationError" in ref
