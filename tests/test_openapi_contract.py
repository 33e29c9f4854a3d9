"""The OpenAPI document is one a client generator can use: bearer security, the real error
envelope and every error status on every operation."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from tests.conftest import Tenant

ERRORS = ("401", "403", "404", "409", "422", "429")
# Operations a provider calls with its own signature instead of an API key.
NO_KEY = {"provider_callback", "provider_callback_check", "whatsapp_verify"}


def test_every_operation_documents_the_error_envelope_and_bearer_security(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer pk_…` (see docs/api.md).",
        }
    }
    envelope = spec["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # Two classes of one name in two domains get module-qualified names: a generated client
    # then loses the type (14 did before issue 11).
    qualified = [name for name in spec["components"]["schemas"] if "__" in name]
    assert qualified == []
    operations = 0
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in item.items():
            operations += 1
            where = f"{method.upper()} {path}"
            for status in ERRORS:
                answer = op["responses"].get(status)
                assert answer is not None, f"{where}: no {status}"
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, f"{where} {status}"
            if op["operationId"] in NO_KEY:
                assert "security" not in op, where
            else:
                assert op.get("security") == [{"apiKey": []}], f"{where}: {op.get('security')}"
    assert operations >= 120


def test_documented_errors_are_what_the_api_answers(client: TestClient, tenant: Tenant) -> None:
    """The envelope in the document validates a real 401, 403, 404 and 422."""
    spec = client.get("/openapi.json").json()
    envelope = {**spec["components"]["schemas"]["Error"], "$defs": spec["components"]["schemas"]}
    envelope = _local_refs(envelope)
    answers = [
        client.get("/api/v1/members"),
        client.post(
            "/api/v1/api-keys", json={"name": "x", "role": "clerk"}, headers=tenant.clerk_headers
        ),
        client.get("/api/v1/members/999999", headers=tenant.headers),
        client.post("/api/v1/members", json={"first_name": 5}, headers=tenant.headers),
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 422]
    for answer in answers:
        jsonschema_rs.validate(envelope, answer.json())


def _local_refs(schema: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
