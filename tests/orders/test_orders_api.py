"""Orders, refunds and products through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.members.funnel import decay_fans
from patron.orders.models import Order, OrderLine, Refund
from tests.conftest import Tenant


def add_products(client: TestClient, tenant: Tenant) -> None:
    for sku, name, cat, price in [
        ("TEA-1", "Tieguanyin 100g", "tea", 8800),
        ("CUP-1", "Celadon cup", "teaware", 4500),
    ]:
        r = client.post(
            "/api/v1/products",
            json={"sku": sku, "name": name, "category": cat, "price_minor": price, "tags": [cat]},
            headers=tenant.headers,
        )
        assert r.status_code == 201, r.text


def member(
    client: TestClient, tenant: Tenant, phone: str = "13812345678", registered: bool = True
) -> int:
    r = client.post(
        "/api/v1/members", json={"phone": phone, "registered": registered}, headers=tenant.headers
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


ORDER: dict[str, Any] = {
    "external_id": "A-1001",
    "store_code": "S1",
    "discount_minor": 1000,
    "lines": [
        {"sku": "TEA-1", "quantity": 3},
        {"sku": "CUP-1", "quantity": 1, "discount_minor": 500},
    ],
}


def post_order(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/orders", json=body, headers=tenant.clerk_headers)


def test_order_totals_split_and_member_summary(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    add_products(client, tenant)
    mid = member(client, tenant)
    r = post_order(client, tenant, {**ORDER, "member_id": mid})
    assert r.status_code == 201, r.text
    o = r.json()
    # 3 x 88.00 = 264.00 ; 45.00 - 5.00 = 40.00 ; subtotal 304.00 ; less 10.00 order discount
    assert (o["subtotal_minor"], o["discount_minor"], o["total_minor"]) == (30400, 1000, 29400)
    # The 10.00 order discount split 264:40 -> 868 and 132 (largest remainder).
    assert [(ln["total_minor"], ln["paid_minor"]) for ln in o["lines"]] == [
        (26400, 25532),
        (4000, 3868),
    ]
    assert [ln["name"] for ln in o["lines"]] == ["Tieguanyin 100g", "Celadon cup"]
    assert (o["channel"], o["currency"], o["status"]) == ("store", "CNY", "completed")
    m = client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()
    assert (m["orders_count"], m["total_spent_minor"]) == (1, 29400)
    assert m["first_order_at"] == m["last_order_at"] == o["placed_at"]
    assert list(db.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id))) == [
        "member.created",
        "order.created",
    ]


def test_replay_same_body_returns_first_and_different_body_is_409(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    add_products(client, tenant)
    first = post_order(client, tenant, ORDER)
    again = post_order(client, tenant, ORDER)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    changed = {**ORDER, "discount_minor": 0}
    r = post_order(client, tenant, changed)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "order_conflict"
    assert db.scalar(select(func.count()).select_from(Order)) == 1
    assert db.scalar(select(Order.total_minor)) == 29400
    assert (
        db.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "order.created")
        )
        == 1
    )


def test_bad_orders_change_nothing(
    client: TestClient, tenant: Tenant, db: Session, clock: FrozenClock
) -> None:
    add_products(client, tenant)
    cases = [
        ({**ORDER, "lines": [{"sku": "NOPE", "quantity": 1}]}, 422, "unknown_sku"),
        ({**ORDER, "discount_minor": 10**7}, 422, "discount_too_large"),
        (
            {**ORDER, "lines": [{"sku": "TEA-1", "quantity": 1, "discount_minor": 9000}]},
            422,
            "discount_too_large",
        ),
        ({**ORDER, "lines": []}, 422, "invalid_request"),
        ({**ORDER, "lines": [{"sku": "TEA-1", "quantity": 0}]}, 422, "invalid_request"),
        (
            {**ORDER, "placed_at": (clock.now() + timedelta(days=1)).isoformat()},
            422,
            "order_in_future",
        ),
        ({**ORDER, "store_code": "NOWHERE"}, 404, "store_not_found"),
        ({**ORDER, "member_id": 999999}, 404, "member_not_found"),
    ]
    for body, status, code in cases:
        r = post_order(client, tenant, body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    assert db.scalar(select(func.count()).select_from(Order)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_customer_by_phone_is_found_or_created_as_customer(
    client: TestClient, tenant: Tenant
) -> None:
    add_products(client, tenant)
    r = post_order(
        client, tenant, {**ORDER, "customer": {"phone": "+86 139 1111 2222", "first_name": "Li"}}
    )
    mid = r.json()["member_id"]
    m = client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()
    assert (m["phone"], m["first_name"], m["funnel_stage"], m["registered_at"]) == (
        "+8613911112222",
        "Li",
        "customer",
        None,
    )
    r = post_order(
        client, tenant, {**ORDER, "external_id": "A-1002", "customer": {"phone": "13911112222"}}
    )
    assert r.json()["member_id"] == mid
    assert client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()["orders_count"] == 2


def test_partial_then_full_refund_returns_exactly_what_was_paid(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    add_products(client, tenant)
    mid = member(client, tenant)
    o = post_order(client, tenant, {**ORDER, "member_id": mid}).json()
    r = client.post(
        f"/api/v1/orders/{o['id']}/refunds",
        json={"external_id": "R-1", "lines": [{"line_no": 1, "quantity": 1}]},
        headers=tenant.clerk_headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    # one of three units of a line that paid 255.32: floor(25532 * 1 / 3) = 8510
    assert body["status"] == "partially_refunded"
    assert body["refunded_minor"] == 8510
    assert [(ln["refunded_quantity"], ln["refunded_minor"]) for ln in body["lines"]] == [
        (1, 8510),
        (0, 0),
    ]
    m = client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()
    assert (m["orders_count"], m["total_spent_minor"]) == (1, 29400 - 8510)
    r = client.post(
        f"/api/v1/orders/{o['id']}/refunds",
        json={"external_id": "R-2"},
        headers=tenant.clerk_headers,
    )
    body = r.json()
    assert body["status"] == "refunded"
    assert body["refunded_minor"] == body["total_minor"] == 29400
    assert [ln["refunded_minor"] for ln in body["lines"]] == [25532, 3868]
    assert [rf["amount_minor"] for rf in body["refunds"]] == [8510, 29400 - 8510]
    m = client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()
    assert (m["orders_count"], m["total_spent_minor"], m["funnel_stage"]) == (0, 0, "member")


def test_refund_cannot_exceed_or_repeat(client: TestClient, tenant: Tenant, db: Session) -> None:
    add_products(client, tenant)
    o = post_order(client, tenant, ORDER).json()
    url = f"/api/v1/orders/{o['id']}/refunds"
    too_many = client.post(
        url,
        json={"external_id": "R-1", "lines": [{"line_no": 2, "quantity": 2}]},
        headers=tenant.headers,
    )
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "refund_exceeds_quantity"
    assert db.scalar(select(func.count()).select_from(Refund)) == 0
    ok = client.post(
        url,
        json={"external_id": "R-1", "lines": [{"line_no": 2, "quantity": 1}]},
        headers=tenant.headers,
    )
    assert ok.status_code == 201
    replay = client.post(
        url,
        json={"external_id": "R-1", "lines": [{"line_no": 2, "quantity": 1}]},
        headers=tenant.headers,
    )
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        url,
        json={"external_id": "R-1", "lines": [{"line_no": 1, "quantity": 1}]},
        headers=tenant.headers,
    )
    assert other.status_code == 409
    again = client.post(
        url,
        json={"external_id": "R-9", "lines": [{"line_no": 2, "quantity": 1}]},
        headers=tenant.headers,
    )
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "refund_exceeds_quantity"
    db.rollback()  # a fresh snapshot after the API's commits
    assert db.scalar(select(func.count()).select_from(Refund)) == 1
    assert db.scalar(select(OrderLine.refunded_minor).where(OrderLine.line_no == 2)) == 3868
    assert db.scalar(select(Order.refunded_minor)) == 3868


def test_funnel_moves_user_customer_member_fan_and_back(
    client: TestClient, tenant: Tenant, clock: FrozenClock, sessions: Any
) -> None:
    add_products(client, tenant)
    mid = member(client, tenant, registered=False)
    assert (
        client.get(f"/api/v1/members/{mid}", headers=tenant.headers).json()["funnel_stage"]
        == "user"
    )
    post_order(client, tenant, {**ORDER, "external_id": "F-1", "member_id": mid})
    client.patch(f"/api/v1/members/{mid}", json={"registered": True}, headers=tenant.headers)
    for n in (2, 3):
        clock.advance(timedelta(days=30))
        post_order(client, tenant, {**ORDER, "external_id": f"F-{n}", "member_id": mid})
    clock.advance(timedelta(days=400))
    with transaction(sessions) as s:
        assert decay_fans(s, tenant.merchant_id) == 1
    history = client.get(f"/api/v1/members/{mid}/funnel-history", headers=tenant.headers).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "user"),
        ("user", "customer"),
        ("customer", "member"),
        ("member", "fan"),
        ("fan", "member"),
    ]
    assert history[-1]["reason"] == "purchases older than a year"


def test_merge_keeps_all_history_of_both(client: TestClient, tenant: Tenant) -> None:
    add_products(client, tenant)
    a = member(client, tenant, "13800000001")
    b_resp = client.post(
        "/api/v1/members",
        json={"email": "b@example.com", "first_name": "Bea", "tags": ["gift"], "registered": False},
        headers=tenant.headers,
    )
    b = b_resp.json()["id"]
    post_order(client, tenant, {**ORDER, "external_id": "M-1", "member_id": a})
    post_order(client, tenant, {**ORDER, "external_id": "M-2", "member_id": b})
    client.post(
        f"/api/v1/members/{b}/notes", json={"body": "prefers online"}, headers=tenant.headers
    )
    r = client.post(
        f"/api/v1/members/{a}/merge", json={"other_member_id": b}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    kept = r.json()
    assert (kept["first_name"], kept["phone"], kept["email"]) == (
        "Bea",
        "+8613800000001",
        "b@example.com",
    )
    assert kept["tags"] == ["gift"]
    assert kept["orders_count"] == 2
    assert kept["total_spent_minor"] == 2 * 29400
    orders = client.get(f"/api/v1/members/{a}/orders", headers=tenant.headers).json()["items"]
    assert sorted(o["external_id"] for o in orders) == ["M-1", "M-2"]
    notes = client.get(f"/api/v1/members/{a}/notes", headers=tenant.headers).json()
    assert [n["body"] for n in notes] == ["prefers online"]
    assert client.get(f"/api/v1/members/{b}", headers=tenant.headers).json()["merged_into_id"] == a
    found = client.get(
        "/api/v1/members", params={"q": "b@example.com"}, headers=tenant.headers
    ).json()["items"]
    assert [f["id"] for f in found] == [a]
    again = client.post(
        f"/api/v1/members/{a}/merge", json={"other_member_id": b}, headers=tenant.headers
    )
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "already_merged"


def test_product_sku_unique_and_filters(client: TestClient, tenant: Tenant) -> None:
    add_products(client, tenant)
    dup = client.post(
        "/api/v1/products",
        json={"sku": "TEA-1", "name": "x", "price_minor": 1},
        headers=tenant.headers,
    )
    assert dup.status_code == 409
    items = client.get(
        "/api/v1/products", params={"category": "teaware"}, headers=tenant.headers
    ).json()["items"]
    assert [p["sku"] for p in items] == ["CUP-1"]
    clerk = client.post(
        "/api/v1/products",
        json={"sku": "Z", "name": "z", "price_minor": 1},
        headers=tenant.clerk_headers,
    )
    assert clerk.status_code == 403
