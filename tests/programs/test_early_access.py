"""Early access (ADR 0357): before a product's release_at only members may buy it (on member
days only, or only some tiers, if the member day setting says so); after it anyone may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest, QuoteRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, InvalidInput
from patron.ledger.models import JournalEntry
from patron.orders.models import Order, OrderLine
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs.config import Kind
from patron.programs.models import OrderPayment, ProgramRule
from patron.programs.rules import member_day_rule, put_rule
from tests.conftest import START, Tenant
from tests.programs.helpers import MEMBER_DAY, new_member, typical_program

# START is 2026-03-10 10:00 in Shanghai: the 10th, a member day. Released on the 20th, 10:00.
RELEASE = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
CART = [{"sku": "NEW-1", "quantity": 1}, {"sku": "OLD-1", "quantity": 2}]
EARLY_LINE = {
    "kind": "early_access",
    "label": "Early access for members: Spring tea before its release on 2026-03-20 10:00 (line 1)",
    "amount_minor": 0,
    "code": None,
    "line_no": 1,
}


def _shop(sessions: sessionmaker[Session], tenant: Tenant, **member_day: Any) -> int:
    """Points and tiers, member day (with ``member_day`` settings), an unreleased product and
    a released one; returns a registered member."""
    m = tenant.merchant_id
    typical_program(sessions, m, member_day={**MEMBER_DAY, **member_day})
    with transaction(sessions) as s:
        create_product(
            s,
            m,
            ProductCreate(sku="NEW-1", name="Spring tea", price_minor=20000, release_at=RELEASE),
        )
        create_product(s, m, ProductCreate(sku="OLD-1", name="Tea cup", price_minor=4500))
    return new_member(sessions, m)


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with transaction(sessions) as s:
        return (
            s.scalar(select(func.count()).select_from(Order)) or 0,
            s.scalar(select(func.count()).select_from(OrderLine)) or 0,
            s.scalar(select(func.count()).select_from(JournalEntry)) or 0,
            s.scalar(select(func.count()).select_from(OrderPayment)) or 0,
        )


def test_member_buys_before_release_on_member_day(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = _shop(sessions, tenant, early_access="member_day")
    req = CommitRequest(member_id=member, lines=CART)
    with transaction(sessions) as s:
        q = checkout.quote(s, tenant.merchant_id, req, secret="x")
    assert q.member_day is True
    assert q.benefits[0].model_dump() == EARLY_LINE
    # Member day 5% still applies: 20000 - 1000 and 9000 - 450.
    assert [ln.total_minor for ln in q.lines] == [19000, 8550]
    assert q.total_minor == 27550
    assert q.receipt[:2] == ["Subtotal CN¥290.00", EARLY_LINE["label"]]
    with transaction(sessions) as s:
        out = checkout.commit(s, tenant.merchant_id, req, "ea-1", "clerk", secret="x")
    assert out.replayed is False and out.quote.total_minor == 27550
    assert (out.quote.points_to_earn, out.quote.growth_to_earn) == (551, 275)
    assert _counts(sessions) == (1, 2, 1, 1)  # one ledger entry per purchase (ADR 0373)


def test_anonymous_buyer_refused_before_release_and_nothing_written(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    _shop(sessions, tenant)
    before = _counts(sessions)
    body = {"lines": CART}
    quote = client.post("/api/v1/checkout/quote", headers=tenant.clerk_headers, json=body)
    assert quote.status_code == 422
    assert quote.json() == {
        "error": {
            "code": "early_access_members_only",
            "message": "line 1: Spring tea is released on 2026-03-20 10:00; before then only "
            "members may buy it",
            "details": {"line_no": 1, "sku": "NEW-1", "release_at": "2026-03-20T02:00:00+00:00"},
        }
    }
    commit = client.post(
        "/api/v1/checkout/commit",
        headers={**tenant.clerk_headers, "Idempotency-Key": "anon-1"},
        json=body,
    )
    assert commit.status_code == 422
    assert commit.json()["error"]["code"] == "early_access_members_only"
    assert _counts(sessions) == before == (0, 0, 0, 0)
    # The same key is not spent by the refusal: the cart without the new product goes through.
    ok = client.post(
        "/api/v1/checkout/commit",
        headers={**tenant.clerk_headers, "Idempotency-Key": "anon-1"},
        json={"lines": CART[1:]},
    )
    assert ok.status_code == 201, ok.text
    assert _counts(sessions) == (1, 1, 0, 0)


def test_member_refused_off_member_day_when_early_access_is_member_day_only(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = _shop(sessions, tenant, early_access="member_day")
    clock.set(START + timedelta(days=1))  # Wednesday the 11th: no member day
    req = CommitRequest(member_id=member, lines=CART)
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        checkout.quote(s, tenant.merchant_id, req, secret="x")
    assert err.value.code == "early_access_member_day_only"
    assert err.value.message == (
        "line 1: Spring tea is released on 2026-03-20 10:00; before then members may buy it "
        "on a member day only"
    )
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        checkout.commit(s, tenant.merchant_id, req, "ea-2", "clerk", secret="x")
    assert err.value.code == "early_access_member_day_only"
    assert _counts(sessions) == (0, 0, 0, 0)


def test_members_on_any_day_by_default(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = _shop(sessions, tenant)
    clock.set(START + timedelta(days=1))
    with transaction(sessions) as s:
        q = checkout.quote(s, tenant.merchant_id, QuoteRequest(member_id=member, lines=CART), "x")
    assert q.member_day is False
    assert q.benefits[0].model_dump() == EARLY_LINE
    assert q.total_minor == 29000


def test_tier_restriction(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = _shop(sessions, tenant, early_access_tiers=["gold", "black"])
    req = QuoteRequest(member_id=member, lines=CART)
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        checkout.quote(s, tenant.merchant_id, req, secret="x")
    assert err.value.code == "early_access_tier_only"
    assert err.value.message.endswith("only members of these tiers may buy it: gold, black")


def test_anyone_buys_after_release(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    _shop(sessions, tenant, early_access="member_day")
    clock.set(RELEASE)
    req = CommitRequest(lines=CART)
    with transaction(sessions) as s:
        q = checkout.quote(s, tenant.merchant_id, req, secret="x")
        assert [b.kind for b in q.benefits] == []
        assert q.total_minor == 29000
    with transaction(sessions) as s:
        out = checkout.commit(s, tenant.merchant_id, req, "ea-3", "clerk", secret="x")
    assert out.quote.total_minor == 29000
    assert _counts(sessions) == (1, 2, 0, 0)


def test_one_second_before_release_is_still_early(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    _shop(sessions, tenant)
    clock.set(RELEASE - timedelta(seconds=1))
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        checkout.quote(s, tenant.merchant_id, QuoteRequest(lines=CART), secret="x")
    assert err.value.code == "early_access_members_only"


def test_release_at_through_the_api(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/api/v1/products",
        headers=tenant.headers,
        json={
            "sku": "NEW-2",
            "name": "Autumn tea",
            "price_minor": 30000,
            "release_at": "2026-04-01T10:00:00+08:00",
        },
    )
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["release_at"] == "2026-04-01T02:00:00Z"
    got = client.get(f"/api/v1/products/{product['id']}", headers=tenant.clerk_headers)
    assert got.json()["release_at"] == "2026-04-01T02:00:00Z"
    moved = client.patch(
        f"/api/v1/products/{product['id']}",
        headers=tenant.headers,
        json={"release_at": "2026-04-02T00:00:00Z"},
    )
    assert moved.json()["release_at"] == "2026-04-02T00:00:00Z"
    naive = client.patch(
        f"/api/v1/products/{product['id']}",
        headers=tenant.headers,
        json={"release_at": "2026-04-03T00:00:00"},
    )
    assert naive.status_code == 422
    got = client.get(f"/api/v1/products/{product['id']}", headers=tenant.clerk_headers)
    assert got.json()["release_at"] == "2026-04-02T00:00:00Z"
    cleared = client.patch(
        f"/api/v1/products/{product['id']}", headers=tenant.headers, json={"release_at": None}
    )
    assert cleared.json()["release_at"] is None


def test_member_day_settings_saved_with_the_retired_tag_still_load(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    with transaction(sessions) as s, pytest.raises(InvalidInput) as err:
        put_rule(s, tenant.merchant_id, Kind.MEMBER_DAY, {"early_access_tag": "new"}, "test")
    assert err.value.details == {
        "errors": [{"loc": "early_access_tag", "msg": "Extra inputs are not permitted"}]
    }
    # A version saved before the tag was retired (written as it was stored then).
    with transaction(sessions) as s:
        s.add(
            ProgramRule(
                merchant_id=tenant.merchant_id,
                kind=Kind.MEMBER_DAY.value,
                version=1,
                effective_from=START - timedelta(days=1),
                config={**MEMBER_DAY, "early_access_tag": "new"},
                created_at=START - timedelta(days=1),
                actor="test",
            )
        )
    with transaction(sessions) as s:
        rule = member_day_rule(s, tenant.merchant_id, START)
    assert rule is not None
    assert rule.config.early_access == "members" and rule.config.early_access_tiers == []
