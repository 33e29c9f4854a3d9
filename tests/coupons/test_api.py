"""The coupon API: issue, validate a cart read-only, void, wallet, and the segment field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.programs.helpers import new_member


def test_issue_validate_void_and_segment(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    h = tenant.headers
    m = new_member(sessions, tenant.merchant_id)
    t = client.post(
        "/api/v1/coupon-templates",
        json={
            "name": "15% tea",
            "kind": "percent_off",
            "percent_off": 15,
            "max_discount_minor": 2000,
            "categories": ["tea"],
            "valid_days": 7,
        },
        headers=h,
    ).json()
    unknown = client.post(
        f"/api/v1/coupon-templates/{t['id']}/issue-bulk",
        json={"member_ids": [m, 424242]},
        headers=h,
    )
    assert unknown.status_code == 404  # an id that is not the merchant's member refuses all
    assert unknown.json()["error"]["details"] == {
        "field": "member_ids",
        "unknown_ids": [424242],
        "unknown": 1,
    }
    assert client.get(f"/api/v1/members/{m}/coupons", headers=h).json() == []
    bulk = client.post(
        f"/api/v1/coupon-templates/{t['id']}/issue-bulk",
        json={"member_ids": [m, m]},
        headers=h,
    )
    assert bulk.json() == {"issued": 1, "skipped": 0}  # repeats count once
    [code] = client.get(f"/api/v1/members/{m}/coupons", headers=h).json()
    lines = [{"name": "Tea", "category": "tea", "quantity": 1, "unit_price_minor": 9999}]
    ok = client.post(
        "/api/v1/coupons/validate",
        json={"codes": [code["code"].lower()], "member_id": m, "lines": lines},
        headers=tenant.clerk_headers,
    ).json()
    assert (ok["valid"], ok["discount_minor"]) == (True, 1499)
    seg = client.post(
        "/api/v1/segments/preview",
        json={"rules": {"field": "has_coupon", "op": "has", "value": t["id"]}},
        headers=h,
    ).json()
    assert seg["count"] == 1
    voided = client.post(f"/api/v1/coupons/{code['id']}/void", json={"reason": "typo"}, headers=h)
    assert voided.json()["status"] == "voided"
    clerk = client.post(
        f"/api/v1/coupons/{code['id']}/void", json={"reason": "x"}, headers=tenant.clerk_headers
    )
    assert clerk.status_code == 403
    bad = client.post(
        "/api/v1/coupons/validate",
        json={"codes": [code["code"]], "member_id": m, "lines": lines},
        headers=h,
    ).json()
    assert (bad["valid"], bad["error"]["code"]) == (False, "coupon_not_usable")
