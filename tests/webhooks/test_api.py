"""The webhook API: validation, roles, tenancy, lists and filters, on both databases."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.events import known_event_types, register_event_types
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, add_endpoint, emit_committed, work

URL = "https://example.test/hooks"


def endpoints_of(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    r = client.get("/api/v1/webhook-endpoints", headers=tenant.headers)
    assert r.status_code == 200
    items: list[dict[str, Any]] = r.json()["items"]
    return items[::-1]  # oldest first, as the tests below create them


def test_event_registry_keeps_core_names_and_accepts_new_ones() -> None:
    assert known_event_types()[:7] == (
        "member.created",
        "member.updated",
        "member.merged",
        "member.stage_changed",
        "member.consent_changed",
        "order.created",
        "order.refunded",
    )
    assert "webhook.test" in known_event_types()
    register_event_types("ledgertest.points_earned", "ledgertest.points_earned")
    assert known_event_types().count("ledgertest.points_earned") == 1


def test_create_returns_the_secret_once(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": URL, "event_types": ["order.created", "order.created", "*"]},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["url"] == URL
    assert created["event_types"] == ["order.created", "*"]
    assert created["active"] is True
    assert created["description"] is None
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32

    r = client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=tenant.headers)
    assert r.status_code == 200
    assert "secret" not in r.json()
    assert [e["id"] for e in endpoints_of(client, tenant)] == [created["id"]]
    assert "secret" not in endpoints_of(client, tenant)[0]


def test_bad_input_is_422_and_creates_nothing(client: TestClient, tenant: Tenant) -> None:
    cases = [
        ({"url": "ftp://example.test/x", "event_types": ["*"]}, "invalid_url"),
        ({"url": "http://", "event_types": ["*"]}, "invalid_url"),
        ({"url": "not a url", "event_types": ["*"]}, "invalid_url"),
        ({"url": "https://example.test:99999/", "event_types": ["*"]}, "invalid_url"),
        ({"url": URL, "event_types": ["order.created", "order.shipped"]}, "unknown_event_type"),
        ({"url": URL, "event_types": []}, "invalid_request"),
        ({"event_types": ["*"]}, "invalid_request"),
    ]
    for body, code in cases:
        r = client.post("/api/v1/webhook-endpoints", json=body, headers=tenant.headers)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == code, body
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": URL, "event_types": ["order.shipped"]},
        headers=tenant.headers,
    )
    assert r.json()["error"]["details"]["unknown"] == ["order.shipped"]
    assert endpoints_of(client, tenant) == []


def test_update_changes_only_what_is_sent(client: TestClient, tenant: Tenant) -> None:
    endpoint = add_endpoint(client, tenant, URL, ["order.created"], description="ERP")
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    r = client.patch(path, json={"event_types": ["member.created"]}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] == ["member.created"]
    assert r.json()["url"] == URL
    assert r.json()["description"] == "ERP"

    r = client.patch(
        path,
        json={"url": "https://other.test/in", "description": None, "active": False},
        headers=tenant.headers,
    )
    assert r.status_code == 200
    assert (r.json()["url"], r.json()["description"], r.json()["active"]) == (
        "https://other.test/in",
        None,
        False,
    )

    before = client.get(path, headers=tenant.headers).json()
    for body, code in [
        ({"url": "mailto:x@y.test", "active": True}, "invalid_url"),
        ({"event_types": ["nope.nope"], "description": "changed"}, "unknown_event_type"),
    ]:
        r = client.patch(path, json=body, headers=tenant.headers)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == code
    assert client.get(path, headers=tenant.headers).json() == before


def test_delete_removes_the_endpoint_and_its_deliveries(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["*"])
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    work(sessions, settings)
    r = client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
    assert r.status_code == 204
    r = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "webhook_endpoint_not_found"
    r = client.get("/api/v1/webhook-deliveries", headers=tenant.headers)
    assert r.json() == {"items": [], "next_cursor": None}


def test_clerk_reads_but_cannot_write(client: TestClient, tenant: Tenant) -> None:
    endpoint = add_endpoint(client, tenant, URL, ["*"])
    eid = endpoint["id"]
    assert client.get("/api/v1/webhook-endpoints", headers=tenant.clerk_headers).status_code == 200
    assert client.get("/api/v1/webhook-deliveries", headers=tenant.clerk_headers).status_code == 200
    assert client.get("/api/v1/events", headers=tenant.clerk_headers).status_code == 200
    writes = [
        ("POST", "/api/v1/webhook-endpoints", {"url": URL, "event_types": ["*"]}),
        ("PATCH", f"/api/v1/webhook-endpoints/{eid}", {"active": False}),
        ("DELETE", f"/api/v1/webhook-endpoints/{eid}", None),
        ("POST", f"/api/v1/webhook-endpoints/{eid}/rotate-secret", None),
        ("POST", f"/api/v1/webhook-endpoints/{eid}/test", None),
    ]
    for method, path, body in writes:
        r = client.request(method, path, json=body, headers=tenant.clerk_headers)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "insufficient_role"
    assert [(e["id"], e["active"]) for e in endpoints_of(client, tenant)] == [(eid, True)]
    r = client.get("/api/v1/events", headers=tenant.headers)
    assert r.json()["items"] == []


def test_other_merchant_gets_404_everywhere(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["*"])
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    work(sessions, settings)
    (delivery,) = client.get("/api/v1/webhook-deliveries", headers=tenant.headers).json()["items"]
    eid, did = endpoint["id"], delivery["id"]
    calls = [
        ("GET", f"/api/v1/webhook-endpoints/{eid}", None, "webhook_endpoint_not_found"),
        ("PATCH", f"/api/v1/webhook-endpoints/{eid}", {"active": False}, None),
        ("DELETE", f"/api/v1/webhook-endpoints/{eid}", None, None),
        ("POST", f"/api/v1/webhook-endpoints/{eid}/rotate-secret", None, None),
        ("POST", f"/api/v1/webhook-endpoints/{eid}/test", None, None),
        ("GET", f"/api/v1/webhook-deliveries/{did}", None, "webhook_delivery_not_found"),
        ("POST", f"/api/v1/webhook-deliveries/{did}/replay", None, None),
    ]
    for method, path, body, code in calls:
        r = client.request(method, path, json=body, headers=other_tenant.headers)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == (code or r.json()["error"]["code"])
    for path in ("/api/v1/webhook-deliveries", "/api/v1/events"):
        r = client.get(path, headers=other_tenant.headers)
        assert r.json() == {"items": [], "next_cursor": None}
        r = client.get(path, params={"endpoint_id": eid}, headers=other_tenant.headers)
        assert r.json()["items"] == []
    assert endpoints_of(client, other_tenant) == []
    # A's data is unchanged by B's attempts.
    assert endpoints_of(client, tenant)[0]["active"] is True
    assert (
        len(client.get("/api/v1/webhook-deliveries", headers=tenant.headers).json()["items"]) == 1
    )


def test_lists_filter_and_page(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    orders = add_endpoint(client, tenant, receiver.url + "/o", ["order.created"])
    everything = add_endpoint(client, tenant, receiver.url + "/a", ["*"])
    receiver.respond((200, 0.0), (200, 0.0), (500, 0.0))
    e1 = emit_committed(sessions, tenant.merchant_id, "order.created", {"n": 1}, subject_id=10)
    e2 = emit_committed(sessions, tenant.merchant_id, "member.created", {"n": 2}, subject_id=20)
    e3 = emit_committed(sessions, tenant.merchant_id, "order.created", {"n": 3}, subject_id=30)
    work(sessions, settings)

    def ids(path: str, **params: Any) -> list[int]:
        r = client.get(path, params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids("/api/v1/events") == [e3, e2, e1]
    assert ids("/api/v1/events", type="order.created") == [e3, e1]
    assert ids("/api/v1/events", subject_id=20) == [e2]
    page = client.get("/api/v1/events", params={"limit": 2}, headers=tenant.headers).json()
    assert [i["id"] for i in page["items"]] == [e3, e2]
    assert page["next_cursor"] == e2
    assert ids("/api/v1/events", limit=2, cursor=e2) == [e1]

    everyone = client.get("/api/v1/webhook-deliveries", headers=tenant.headers).json()["items"]
    assert len(everyone) == 5
    by_endpoint = client.get(
        "/api/v1/webhook-deliveries",
        params={"endpoint_id": orders["id"]},
        headers=tenant.headers,
    ).json()["items"]
    assert sorted(d["event_id"] for d in by_endpoint) == [e1, e3]
    member_deliveries = client.get(
        "/api/v1/webhook-deliveries",
        params={"event_type": "member.created"},
        headers=tenant.headers,
    ).json()["items"]
    assert [(d["endpoint_id"], d["event_id"]) for d in member_deliveries] == [
        (everything["id"], e2)
    ]
    pending = client.get(
        "/api/v1/webhook-deliveries", params={"status": "pending"}, headers=tenant.headers
    ).json()["items"]
    assert len(pending) == 1
    assert pending[0]["last_status_code"] == 500
    r = client.get("/api/v1/webhook-deliveries", params={"status": "lost"}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_status"
    first_page = client.get(
        "/api/v1/webhook-deliveries", params={"limit": 3}, headers=tenant.headers
    ).json()
    rest = client.get(
        "/api/v1/webhook-deliveries",
        params={"limit": 3, "cursor": first_page["next_cursor"]},
        headers=tenant.headers,
    ).json()
    assert [d["id"] for d in first_page["items"] + rest["items"]] == [d["id"] for d in everyone]
    assert rest["next_cursor"] is None


def test_test_event_refused_on_inactive_endpoint(client: TestClient, tenant: Tenant) -> None:
    endpoint = add_endpoint(client, tenant, URL, ["*"], active=False)
    r = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test", headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "endpoint_inactive"
    assert client.get("/api/v1/events", headers=tenant.headers).json()["items"] == []
