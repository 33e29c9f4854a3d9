"""Points mall redemptions (points, stock, limits, cancel) and gifts while stock lasts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.coupons.models import CouponCode, GiftGrant, GiftRule
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.ledger.service import EntryInfo, earn_points
from tests.conftest import Tenant
from tests.coupons.helpers import checkout, template
from tests.programs.helpers import add_products, new_member, typical_program


def give_points(sessions: sessionmaker[Session], mid: int, member_id: int, n: int) -> None:
    with transaction(sessions) as s:
        earn_points(s, mid, member_id, n, EntryInfo("goodwill", "Welcome points", "test"))


def points(sessions: sessionmaker[Session], mid: int, member_id: int) -> int:
    with transaction(sessions) as s:
        return queries.member_balances(s, mid, member_id).balances.get("points", 0)


def redeem(client: TestClient, t: Tenant, member_id: int, item_id: int, key: str) -> Any:
    return client.post(
        "/api/v1/mall/redeem",
        json={"member_id": member_id, "item_id": item_id},
        headers={**t.headers, "Idempotency-Key": key},
    )


def test_mall_redeem_spends_points_takes_stock_and_cancel_refunds(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mid = tenant.merchant_id
    m = new_member(sessions, mid)
    give_points(sessions, mid, m, 1200)
    item = client.post(
        "/api/v1/mall/items",
        json={
            "kind": "gift",
            "name": "Celadon cup",
            "points_price": 500,
            "stock": 2,
            "per_member_limit": 2,
        },
        headers=tenant.headers,
    ).json()
    first = redeem(client, tenant, m, item["id"], "r1")
    assert first.status_code == 201 and first.json()["status"] == "pending"
    again = redeem(client, tenant, m, item["id"], "r1")
    assert (again.json()["id"], again.json()["replayed"]) == (first.json()["id"], True)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert points(sessions, mid, m) == 700
    with transaction(sessions) as s:
        entry = s.get(JournalEntry, first.json()["spend_entry_id"])
        assert entry is not None and entry.description == "Redeemed 500 points for Celadon cup"
    second = redeem(client, tenant, m, item["id"], "r2")
    assert second.status_code == 201 and points(sessions, mid, m) == 200
    # Out of stock: 422 and nothing changed.
    other = new_member(sessions, mid, phone="+8613800000002")
    give_points(sessions, mid, other, 900)
    out = redeem(client, tenant, other, item["id"], "r3")
    assert (out.status_code, out.json()["error"]["code"]) == (422, "mall_out_of_stock")
    assert points(sessions, mid, other) == 900
    # Cancel: points back by a ledger reversal, stock back; then the per-member limit holds.
    cancel = client.patch(
        f"/api/v1/mall/orders/{first.json()['id']}",
        json={"status": "cancelled"},
        headers=tenant.headers,
    )
    assert cancel.status_code == 200 and cancel.json()["refund_entry_id"] is not None
    assert points(sessions, mid, m) == 700
    item_now = client.get(f"/api/v1/mall/items/{item['id']}", headers=tenant.headers).json()
    assert item_now["stock"] == 1
    client.post(
        "/api/v1/mall/items",
        json={"kind": "gift", "name": "x", "points_price": 1},
        headers=tenant.headers,
    )
    bad = client.patch(
        f"/api/v1/mall/orders/{first.json()['id']}",
        json={"status": "ready"},
        headers=tenant.headers,
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (409, "mall_order_transition")
    redeem(client, tenant, m, item["id"], "r4")
    over = client.patch(
        f"/api/v1/mall/items/{item['id']}", json={"stock": 5}, headers=tenant.headers
    )
    assert over.status_code == 200
    limit = redeem(client, tenant, m, item["id"], "r5")
    assert (limit.status_code, limit.json()["error"]["code"]) == (422, "mall_member_limit_reached")
    poor = redeem(client, tenant, other, item["id"], "r6")
    assert poor.status_code == 201
    broke = redeem(client, tenant, other, item["id"], "r7")
    assert (broke.status_code, broke.json()["error"]["code"]) == (422, "insufficient_balance")
    assert points(sessions, mid, other) == 400
    assert (
        client.get(f"/api/v1/mall/items/{item['id']}", headers=tenant.headers).json()["stock"] == 4
    )


def test_mall_voucher_issues_the_coupon_at_once(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mid = tenant.merchant_id
    m = new_member(sessions, mid)
    give_points(sessions, mid, m, 300)
    tid = template(sessions, mid, valid_days=30)
    item = client.post(
        "/api/v1/mall/items",
        json={"kind": "voucher", "name": "10 off voucher", "points_price": 300, "template_id": tid},
        headers=tenant.headers,
    ).json()
    order = redeem(client, tenant, m, item["id"], "v1").json()
    assert order["status"] == "delivered" and order["coupon_code_id"] is not None
    wallet = client.get(f"/api/v1/members/{m}/coupons", headers=tenant.headers).json()
    assert [(c["source"], c["status"], c["template_name"]) for c in wallet] == [
        ("mall", "issued", "10 off")
    ]
    assert points(sessions, mid, m) == 0


def test_gift_while_stock_lasts(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    mid = tenant.merchant_id
    typical_program(sessions, mid)
    add_products(sessions, mid)
    m = new_member(sessions, mid)
    with transaction(sessions) as s:
        rule = GiftRule(
            merchant_id=mid,
            name="Spend 100 on tea",
            min_spend_minor=10000,
            categories=["tea"],
            gift_sku="CUP-1",
            gift_name="Tea cup",
            gift_quantity=1,
            stock=2,
            status="active",
            created_at=s.info["clock"].now(),
            updated_at=s.info["clock"].now(),
        )
        s.add(rule)
        s.flush()
        rule_id = rule.id
    gifts = []
    for i in range(3):
        out = checkout(sessions, mid, m, f"g{i}", [{"sku": "TEA-1", "quantity": 1}])
        gifts.append([b["label"] for b in out["quote"]["benefits"] if b["kind"] == "gift"])
    assert gifts == [["Gift with purchase: Tea cup"]] * 2 + [[]]
    small = checkout(sessions, mid, m, "g9", [{"sku": "CUP-1", "quantity": 1}])
    assert [b for b in small["quote"]["benefits"] if b["kind"] == "gift"] == []
    with transaction(sessions) as s:
        assert s.get(GiftRule, rule_id).stock == 0  # type: ignore[union-attr]
        assert len(list(s.scalars(select(GiftGrant)))) == 2
        assert list(s.scalars(select(CouponCode))) == []
