"""Checkout quote and commit: a realistic cart, every line asserted; commit effects; replays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest, QuoteRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, Conflict
from patron.ledger.models import JournalEntry, PointsLot
from patron.ledger.service import release_pending_points
from patron.ledger.verify import verify
from patron.orders.models import Order
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from patron.programs import stored_value
from patron.programs.models import OrderPayment
from patron.programs.tiers import member_tier
from tests.conftest import START, Tenant
from tests.programs.helpers import (
    MEMBER_DAY,
    add_products,
    balances,
    new_member,
    set_rules,
    typical_program,
)

CART = [{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}]


def gold_member_with_points_and_top_up(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> int:
    """A member who spent 1,000.00 ten days ago (Gold, 1,000 points now available) and
    topped up 100.00 (bonus 20.00); member day settings on; the clock back at START."""
    m = tenant.merchant_id
    clock.set(START - timedelta(days=10))
    typical_program(sessions, m)
    add_products(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        create_order(
            s,
            m,
            OrderCreate(
                external_id="POS-1",
                member_id=member,
                lines=[OrderLineIn(name="Tea set", quantity=1, unit_price_minor=100000)],
            ),
        )
        stored_value.top_up(s, m, member, 10000, "tu-1", "test")
    clock.set(START - timedelta(days=2))
    with transaction(sessions) as s:
        assert release_pending_points(s, m) == 1
    clock.set(START)
    set_rules(sessions, m, member_day=MEMBER_DAY)
    return member


def test_quote_breakdown_of_a_realistic_cart(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = gold_member_with_points_and_top_up(sessions, clock, tenant)
    req = QuoteRequest(
        member_id=member, store_id=tenant.store_id, lines=CART, points="max", stored_value="max"
    )
    with transaction(sessions) as s:
        q = checkout.quote(s, tenant.merchant_id, req, secret="x")
    assert q.member is not None and q.member.tier_code == "gold"
    assert q.member.points_spendable == 1000 and q.member.stored_value_minor == 12000
    assert q.member_day is True
    tea, cup = q.lines
    assert (
        tea.gross_minor,
        tea.tier_discount_minor,
        tea.member_day_discount_minor,
        tea.coupon_discount_minor,
        tea.total_minor,
        tea.points_to_earn,
    ) == (25600, 1280, 1216, 0, 23104, 692)
    assert (
        cup.gross_minor,
        cup.tier_discount_minor,
        cup.member_day_discount_minor,
        cup.coupon_discount_minor,
        cup.total_minor,
        cup.points_to_earn,
    ) == (4500, 225, 213, 0, 4062, 122)
    assert (q.subtotal_minor, q.discount_minor, q.total_minor) == (30100, 2934, 27166)
    assert (q.points_redeemed, q.points_value_minor) == (1000, 1000)
    assert (q.stored_principal_minor, q.stored_bonus_minor) == (10000, 2000)
    assert q.cash_due_minor == 14166
    assert (q.points_to_earn, q.growth_to_earn) == (814, 271)
    assert [(b.kind, b.amount_minor) for b in q.benefits] == [
        ("tier_discount", 1280),
        ("member_day_discount", 1216),
        ("tier_discount", 225),
        ("member_day_discount", 213),
        ("points_deduction", 1000),
        ("stored_value", 12000),
    ]
    assert q.receipt == [
        "Subtotal CN¥301.00",
        "Gold discount 5% on line 1: -CN¥12.80",
        "Member day 5% off on line 1: -CN¥12.16",
        "Gold discount 5% on line 2: -CN¥2.25",
        "Member day 5% off on line 2: -CN¥2.13",
        "Total for the goods CN¥271.66",
        "1000 points pay CN¥10.00",
        "Stored value pays CN¥120.00 (top-up CN¥100.00, bonus CN¥20.00)",
        "To pay CN¥141.66",
        "Points earned 814 (usable after 7 days); growth 271",
    ]


def test_commit_effects_and_replay(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member = gold_member_with_points_and_top_up(sessions, clock, tenant)
    req = CommitRequest(
        member_id=member, store_id=tenant.store_id, lines=CART, points="max", stored_value="max"
    )
    with transaction(sessions) as s:
        first = checkout.commit(s, m, req, "till-1-0001", "clerk", secret="x")
    assert first.replayed is False and first.quote.cash_due_minor == 14166
    assert balances(sessions, m, member) == {
        "points": 0,
        "points_pending": 814,
        "growth": 1271,
        "stored_principal": 0,
        "stored_bonus": 0,
        "commission": 0,
    }
    with transaction(sessions) as s:
        again = checkout.commit(s, m, req, "till-1-0001", "clerk", secret="x")
        assert again.replayed is True and again.order_id == first.order_id
        pay = s.scalar(select(OrderPayment).where(OrderPayment.order_id == first.order_id))
        assert pay is not None
        assert (
            pay.total_minor,
            pay.cash_minor,
            pay.points_redeemed,
            pay.points_value_minor,
            pay.stored_principal_minor,
            pay.stored_bonus_minor,
            pay.points_earned,
            pay.growth_earned,
        ) == (27166, 14166, 1000, 1000, 10000, 2000, 814, 271)
        assert pay.line_earnings == {"1": [692, 230], "2": [122, 41]}
        order = s.get(Order, first.order_id)
        assert order is not None
        assert (order.subtotal_minor, order.discount_minor, order.total_minor) == (27166, 0, 27166)
        lot = s.scalar(select(PointsLot).where(PointsLot.entry_id == pay.earn_entry_id))
        assert lot is not None and lot.available_at == START + timedelta(days=7)
        row = member_tier(s, m, member)
        assert row is not None and row.tier_code == "gold"
        assert s.scalar(select(func.count()).select_from(Order)) == 2
        assert verify(s) == []
        with pytest.raises(Conflict):
            checkout.commit(s, m, req.model_copy(update={"points": None}), "till-1-0001", "c")


def test_commit_refused_when_balance_gone_changes_nothing(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member = gold_member_with_points_and_top_up(sessions, clock, tenant)
    req = CommitRequest(member_id=member, lines=CART, stored_value=13000)
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        checkout.commit(s, m, req, "k-2", "clerk", secret="x")
    assert err.value.code == "insufficient_balance"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        # the top-up, the points given, the first purchase (one entry for the whole of it)
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 3
