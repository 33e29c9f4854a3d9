"""The app starts, the error envelope and the API-key check hold on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant


def test_health_reports_database(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["database"] in {"sqlite", "postgresql"}


def test_missing_key_is_401_in_envelope(client: TestClient) -> None:
    r = client.get("/api/v1/merchant")
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "missing_api_key",
            "message": "send an API key as 'Authorization: Bearer <key>'",
        }
    }


def test_wrong_key_is_401(client: TestClient, tenant: Tenant) -> None:
    bad = tenant.api_key[:-3] + "xyz"
    r = client.get("/api/v1/merchant", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_key_sees_its_own_merchant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = client.get("/api/v1/merchant", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["slug"] == "alpha"
    r = client.get("/api/v1/merchant", headers=other_tenant.headers)
    assert r.json()["slug"] == "bravo"


def test_store_of_other_merchant_is_404(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = client.get(f"/api/v1/stores/{tenant.store_id}", headers=other_tenant.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "store_not_found"


def test_clerk_cannot_create_keys(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "owner"}, headers=tenant.clerk_headers
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "insufficient_role"
    keys = client.get("/api/v1/api-keys", headers=tenant.headers).json()
    assert [k["name"] for k in keys["items"]] == ["till", "owner key"]  # newest first
    assert keys["next_cursor"] is None


def test_validation_error_envelope(client: TestClient, tenant: Tenant) -> None:
    r = client.post("/api/v1/stores", json={"code": "X"}, headers=tenant.headers)
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "invalid_request"
    assert {d["field"] for d in body["details"]} == {"body.name", "body.channel"}


def test_duplicate_store_code_is_409_and_changes_nothing(
    client: TestClient, tenant: Tenant
) -> None:
    r = client.post(
        "/api/v1/stores",
        json={"code": "S1", "name": "Again", "channel": "store"},
        headers=tenant.headers,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "store_exists"
    stores = client.get("/api/v1/stores", headers=tenant.headers).json()["items"]
    assert [s["name"] for s in stores] == ["Online shop", "Main street"]  # newest first
