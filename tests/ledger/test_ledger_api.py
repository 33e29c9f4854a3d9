"""The ledger over HTTP: balances, statement, lots, adjustments, entries, liability, tenancy."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.ledger import service as ledger
from patron.ledger.models import JournalEntry
from tests.conftest import Tenant
from tests.ledger.helpers import info, make_members


def adjust(
    client: TestClient, tenant: Tenant, member_id: int, key: str | None = None, **fields: object
) -> object:
    body = {
        "asset": "points",
        "amount": 25,
        "reason_code": "goodwill",
        "description": "Sorry for the wait",
        **fields,
    }
    # The key is required on every balance-moving POST (ADR 0034): a fresh one unless given.
    headers = {**tenant.headers, "Idempotency-Key": key or f"adjust-{uuid4()}"}
    return client.post(f"/api/v1/members/{member_id}/adjustments", json=body, headers=headers)


def test_adjustment_is_audited_and_idempotent(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    r = adjust(client, tenant, m, key="adj-1", note="called the shop")
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["actor"].startswith("apikey:")
    assert (entry["reason_code"], entry["note"]) == ("goodwill", "called the shop")
    assert [(p["code"], p["amount"], p["balance_after"]) for p in entry["postings"]] == [
        ("points", 25, 25),
        ("points_issued", -25, -25),
    ]
    again = adjust(client, tenant, m, key="adj-1", note="called the shop")
    assert again.status_code == 200 and again.json()["id"] == entry["id"]  # a replay
    assert again.headers["Idempotent-Replayed"] == "true"
    reused = adjust(client, tenant, m, key="adj-1", amount=30)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        types = list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
        assert types == ["points.earned", "balance.adjusted"]
    fetched = client.get(f"/api/v1/ledger/entries/{entry['id']}", headers=tenant.headers)
    assert fetched.json() == entry


def test_clerk_cannot_adjust_and_overdraw_is_422(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    body = {"asset": "points", "amount": 5, "reason_code": "x", "description": "x"}
    r = client.post(f"/api/v1/members/{m}/adjustments", json=body, headers=tenant.clerk_headers)
    assert r.status_code == 403
    r = adjust(client, tenant, m, asset="stored_principal", amount=-1)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "insufficient_balance"


def test_balances_statement_and_lots(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 100, info("purchase", "Order 1"))
        ledger.earn_points(
            s,
            tenant.merchant_id,
            m,
            30,
            info("purchase", "Order 2"),
            available_at=clock.now() + timedelta(days=7),
        )
        ledger.spend_points(s, tenant.merchant_id, m, 40, info("redeem", "Mug from the mall"))
    adjust(client, tenant, m, asset="stored_principal", amount=500, description="Top-up by hand")
    b = client.get(f"/api/v1/members/{m}/balances", headers=tenant.clerk_headers).json()
    assert b["balances"]["points"] == 60
    assert (b["points_spendable"], b["points_pending"]) == (60, 30)
    assert b["balances"]["stored_principal"] == 500
    page = client.get(f"/api/v1/members/{m}/statement?limit=2", headers=tenant.headers).json()
    assert [(i["description"], i["amounts"], i["balances_after"]) for i in page["items"]] == [
        ("Top-up by hand", {"stored_principal": 500}, {"stored_principal": 500}),
        ("Mug from the mall", {"points": -40}, {"points": 60}),
    ]
    rest = client.get(
        f"/api/v1/members/{m}/statement?limit=2&cursor={page['next_cursor']}",
        headers=tenant.headers,
    ).json()
    assert [i["description"] for i in rest["items"]] == ["Order 2", "Order 1"]
    assert rest["items"][0]["amounts"] == {"points_pending": 30}
    assert rest["next_cursor"] is None
    lots = client.get(f"/api/v1/members/{m}/points-lots", headers=tenant.headers).json()
    assert [(lot["amount"], lot["remaining"]) for lot in lots["items"]] == [(30, 30), (100, 60)]
    assert lots["items"][0]["released_at"] is None
    liability = client.get("/api/v1/ledger/liability", headers=tenant.headers).json()
    assert (liability["points"], liability["stored_value"]) == (90, 500)


def test_other_merchant_sees_404(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    entry = adjust(client, tenant, m).json()
    for path in ("balances", "statement", "points-lots"):
        r = client.get(f"/api/v1/members/{m}/{path}", headers=other_tenant.headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"
    r = client.get(f"/api/v1/ledger/entries/{entry['id']}", headers=other_tenant.headers)
    assert r.status_code == 404
    r = adjust(client, other_tenant, m)
    assert r.status_code == 404
    liability = client.get("/api/v1/ledger/liability", headers=other_tenant.headers).json()
    assert liability["points"] == 0
    b = client.get(f"/api/v1/members/{m}/balances", headers=tenant.headers).json()
    assert b["balances"]["points"] == 25
