"""The OpenAPI document is one a client generator can use: bearer security, the real error
envelope and every error status on every operation."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant

ERRORS = ("401", "403", "404", "409", "422", "429", "503")
# Operations a provider calls with its own signature instead of an API key.
NO_KEY = {"provider_callback", "provider_callback_check", "whatsapp_verify", "payment_notify"}


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


def test_429_503_and_413_are_documented_where_they_can_happen(client: TestClient) -> None:
    """Every API operation can meet a rate limit (429) and admission control (503), both with
    ``Retry-After``; every operation that reads a body can meet the body limit (413)."""
    spec = client.get("/openapi.json").json()
    retry_after = {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 1},
        }
    }
    with_body = 0
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            for status in ("429", "503"):
                assert op["responses"][status]["headers"] == retry_after, f"{where} {status}"
                assert _envelope_ref(op, status), f"{where} {status}"
            if "requestBody" in op:
                with_body += 1
                assert _envelope_ref(op, "413"), where
            else:
                assert "413" not in op["responses"], where
    assert with_body >= 50


def test_a_real_429_and_413_match_the_documented_responses(
    settings: Settings, engine: Engine, clock: FrozenClock, tenant: Tenant
) -> None:
    limited = settings.model_copy(update={"rate_limit_api_key": "1/minute", "api_max_body_mb": 1})
    app = create_app(limited, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        spec = c.get("/openapi.json").json()
        member = {"first_name": "Mei"}
        too_large = {"first_name": "Mei", "notes": "x" * (1 << 20)}
        answers = {
            "413": c.post("/api/v1/members", json=too_large, headers=tenant.clerk_headers),
            "201": c.post("/api/v1/members", json=member, headers=tenant.headers),
            "429": c.post("/api/v1/members", json=member, headers=tenant.headers),
        }
    assert {k: a.status_code for k, a in answers.items()} == {"413": 413, "201": 201, "429": 429}
    op = spec["paths"]["/api/v1/members"]["post"]
    for status in ("413", "429"):
        documented = op["responses"][status]["content"]["application/json"]["schema"]
        schema = _local_refs({**documented, "$defs": spec["components"]["schemas"]})
        jsonschema_rs.validate(schema, answers[status].json())
    assert answers["413"].json()["error"]["code"] == "payload_too_large"
    assert answers["429"].json()["error"]["code"] == "rate_limited"
    header = op["responses"]["429"]["headers"]["Retry-After"]["schema"]
    jsonschema_rs.validate(header, int(answers["429"].headers["Retry-After"]))


def _envelope_ref(op: dict[str, Any], status: str) -> bool:
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return bool(schema == {"$ref": "#/components/schemas/Error"})
