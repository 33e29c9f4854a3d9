"""The programs and checkout API: settings versions, top-ups, quote/commit, QR, tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from patron.checkout.members import membership_qr_token
from patron.core.clock import FrozenClock
from patron.members.models import Member
from tests.conftest import START, Tenant
from tests.programs.helpers import POINTS, STORED, TIERS


def membership_qr_token_for(client: TestClient, member_id: int) -> str:
    app: Any = client.app
    with app.state.sessions() as s:
        found = s.get(Member, member_id)
        assert found is not None
        return membership_qr_token(found, app.state.settings.secret_key)


def _member(client: TestClient, tenant: Tenant) -> int:
    r = client.post(
        "/api/v1/members",
        headers=tenant.headers,
        json={"first_name": "Ana", "phone": "+8613900000009"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_settings_are_versioned(client: TestClient, tenant: Tenant, clock: FrozenClock) -> None:
    h = tenant.headers
    assert client.get("/api/v1/programs/points", headers=h).status_code == 404
    r = client.put("/api/v1/programs/points", headers=h, json={"config": POINTS})
    assert r.status_code == 200 and r.json()["version"] == 1
    later = (START + timedelta(days=5)).isoformat()
    r = client.put(
        "/api/v1/programs/points",
        headers=h,
        json={"config": {**POINTS, "earn_points": 2}, "effective_from": later},
    )
    assert r.json()["version"] == 2
    assert client.get("/api/v1/programs/points", headers=h).json()["config"]["earn_points"] == 1
    clock.advance(timedelta(days=6))
    assert client.get("/api/v1/programs/points", headers=h).json()["version"] == 2
    versions = client.get("/api/v1/programs/points/versions", headers=h).json()
    assert [v["version"] for v in versions] == [2, 1]
    bad = client.put(
        "/api/v1/programs/tiers",
        headers=h,
        json={"config": {"tiers": [{"code": "a", "name": "A", "threshold": 5}]}},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_program_config"
    # Points that could expire before they are ever spendable: refused, nothing saved.
    for expiry, pending, says in [
        ({"mode": "rolling", "months": 0}, 0, "rolling expiry needs at least 1 month"),
        ({"mode": "end_of_month", "months": 0}, 7, "in the last 7 days of a month"),
        ({"mode": "end_of_year", "months": 0}, 3, "in the last 3 days of a year"),
    ]:
        bad = client.put(
            "/api/v1/programs/points",
            headers=h,
            json={"config": {**POINTS, "expiry": expiry, "pending_days": pending}},
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["code"] == "invalid_program_config"
        assert says in bad.text
    versions = client.get("/api/v1/programs/points/versions", headers=h).json()
    assert [v["version"] for v in versions] == [2, 1]
    ok = client.put(  # month-end expiry without a pending window is a fine setting
        "/api/v1/programs/points",
        headers=h,
        json={
            "config": {**POINTS, "expiry": {"mode": "end_of_month", "months": 0}, "pending_days": 0}
        },
    )
    assert ok.status_code == 200 and ok.json()["version"] == 3
    assert (
        client.put(
            "/api/v1/programs/points", headers=tenant.clerk_headers, json={"config": POINTS}
        ).status_code
        == 403
    )


def test_top_up_quote_commit_and_qr(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    h = tenant.headers
    for kind, cfg in (("points", POINTS), ("tiers", TIERS), ("stored_value", STORED)):
        assert client.put(f"/api/v1/programs/{kind}", headers=h, json={"config": cfg}).is_success
    member = _member(client, tenant)
    url = f"/api/v1/members/{member}/top-ups"
    r = client.post(
        url, headers={**tenant.clerk_headers, "Idempotency-Key": "t1"}, json={"amount_minor": 10000}
    )
    assert r.status_code == 201 and r.json()["bonus_minor"] == 2000
    again = client.post(
        url, headers={**tenant.clerk_headers, "Idempotency-Key": "t1"}, json={"amount_minor": 10000}
    )
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert (
        client.post(url, headers=tenant.clerk_headers, json={"amount_minor": 10000}).status_code
        == 422
    )
    statement = client.get(f"/api/v1/members/{member}/stored-value", headers=h).json()
    assert (statement["principal_minor"], statement["bonus_minor"]) == (10000, 2000)
    assert statement["lines"][0]["description"] == "Top-up of CN¥100.00 with a bonus of CN¥20.00"
    svg = client.get(f"/api/v1/members/{member}/membership-qr.svg", headers=h)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "<svg" in svg.text
    token = membership_qr_token_for(client, member)
    by_qr = client.post(
        "/api/v1/checkout/quote",
        headers=tenant.clerk_headers,
        json={
            "qr_token": token,
            "lines": [{"name": "Tea", "quantity": 1, "unit_price_minor": 5000}],
        },
    )
    assert by_qr.status_code == 200 and by_qr.json()["member"]["id"] == member
    forged = client.post(
        "/api/v1/checkout/quote",
        headers=tenant.clerk_headers,
        json={
            "qr_token": token + "x",
            "lines": [{"name": "T", "quantity": 1, "unit_price_minor": 1}],
        },
    )
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_qr_token"
    token_quote = {
        "phone": "+8613900000009",
        "stored_value": "max",
        "lines": [{"name": "Tea", "quantity": 1, "unit_price_minor": 5000}],
    }
    q = client.post("/api/v1/checkout/quote", headers=tenant.clerk_headers, json=token_quote)
    assert q.status_code == 200, q.text
    assert (q.json()["stored_principal_minor"], q.json()["cash_due_minor"]) == (5000, 0)
    no_key = client.post("/api/v1/checkout/commit", headers=tenant.clerk_headers, json=token_quote)
    assert no_key.status_code == 422
    c = client.post(
        "/api/v1/checkout/commit",
        headers={**tenant.clerk_headers, "Idempotency-Key": "c1"},
        json=token_quote,
    )
    assert c.status_code == 201, c.text
    c2 = client.post(
        "/api/v1/checkout/commit",
        headers={**tenant.clerk_headers, "Idempotency-Key": "c1"},
        json=token_quote,
    )
    assert c2.status_code == 200 and c2.json()["order_id"] == c.json()["order_id"]
    tier = client.get(f"/api/v1/members/{member}/tier", headers=h).json()
    assert (tier["tier_code"], tier["growth_in_window"], tier["growth_to_next"]) == (
        "silver",
        50,
        950,
    )
    refund = client.post(f"/api/v1/top-ups/{r.json()['id']}/refund", headers=h)
    assert refund.status_code == 200, refund.text
    # 50.00 of principal was spent: 50.00 is left, the bonus is unused and removed
    assert refund.json()["refunded_cash_minor"] == 5000
    # merchant B sees none of it
    assert (
        client.get(f"/api/v1/members/{member}/tier", headers=other_tenant.headers).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/members/{member}/membership-qr.svg", headers=other_tenant.headers
        ).status_code
        == 404
    )
