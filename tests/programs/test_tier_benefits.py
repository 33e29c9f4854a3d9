"""A tier's benefits as the till and the API see them: free shipping on the quote, every
benefit on the member's tier."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.programs.helpers import TIERS, new_member, typical_program

LINE = [{"name": "Tea", "quantity": 1, "unit_price_minor": 5000}]


def _tiers(entry_free_shipping: bool) -> dict[str, object]:
    tiers = copy.deepcopy(TIERS)
    tiers["tiers"][0].update(free_shipping=entry_free_shipping, birthday_gift=True)
    return tiers


def test_free_shipping_on_the_quote_and_the_tier(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    typical_program(sessions, tenant.merchant_id, tiers=_tiers(True))
    member = new_member(sessions, tenant.merchant_id)
    q = client.post(
        "/api/v1/checkout/quote",
        headers=tenant.clerk_headers,
        json={"member_id": member, "lines": LINE},
    ).json()
    assert q["member"]["tier_code"] == "silver" and q["member"]["free_shipping"] is True
    assert q["receipt"][-2:] == [
        "Free shipping (Silver)",
        "Points earned 50 (usable after 7 days); growth 50",
    ]
    tier = client.get(f"/api/v1/members/{member}/tier", headers=tenant.clerk_headers).json()
    assert tier["benefits"] == {
        "discount_percent": "0",
        "points_multiplier": "1",
        "birthday_gift": True,
        "free_shipping": True,
    }


def test_no_free_shipping_unless_the_tier_says_so(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    typical_program(sessions, tenant.merchant_id, tiers=_tiers(False))
    member = new_member(sessions, tenant.merchant_id)
    q = client.post(
        "/api/v1/checkout/quote",
        headers=tenant.clerk_headers,
        json={"member_id": member, "lines": LINE},
    ).json()
    assert q["member"]["free_shipping"] is False
    assert not any("shipping" in line for line in q["receipt"])
    anonymous = client.post(
        "/api/v1/checkout/quote", headers=tenant.clerk_headers, json={"lines": LINE}
    ).json()
    assert anonymous["member"] is None
