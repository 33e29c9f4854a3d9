"""Tests named after the known failures of loyalty systems (issue 3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.ledger.models import JournalEntry
from patron.ledger.service import release_pending_points
from patron.ledger.verify import verify
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate, RefundLineIn
from patron.orders.service import create_order, refund_order
from patron.programs import bonuses, stored_value
from patron.programs.models import OrderPayment
from patron.programs.tiers import member_tier
from tests.conftest import Tenant
from tests.programs.helpers import POINTS, balances, new_member, typical_program


def _pos_order(
    sessions: sessionmaker[Session], m: int, member: int, ext: str, lines: list[tuple[int, int]]
) -> int:
    with transaction(sessions) as s:
        order, _ = create_order(
            s,
            m,
            OrderCreate(
                external_id=ext,
                member_id=member,
                lines=[
                    OrderLineIn(name=f"item {i}", quantity=q, unit_price_minor=p)
                    for i, (q, p) in enumerate(lines)
                ],
            ),
        )
        return order.id


def _refund(
    sessions: sessionmaker[Session],
    m: int,
    order_id: int,
    ext: str,
    lines: list[tuple[int, int]] | None = None,
) -> None:
    with transaction(sessions) as s:
        refund_order(
            s,
            m,
            order_id,
            RefundCreate(
                external_id=ext,
                lines=None
                if lines is None
                else [RefundLineIn(line_no=n, quantity=q) for n, q in lines],
            ),
        )


def test_refund_then_keep_the_points(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    """A refunded purchase must not leave its points (or growth) with the member."""
    m = tenant.merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    order = _pos_order(sessions, m, member, "A-1", [(2, 15000)])
    assert balances(sessions, m, member)["points_pending"] == 300
    _refund(sessions, m, order, "R-1", [(1, 1)])
    b = balances(sessions, m, member)
    assert (b["points_pending"], b["growth"]) == (150, 150)
    _refund(sessions, m, order, "R-2")
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"], b["growth"]) == (0, 0, 0)
    _refund(sessions, m, order, "R-2")  # the same refund again: nothing more
    assert balances(sessions, m, member) == b
    with transaction(sessions) as s:
        assert verify(s) == []


def test_redeemed_points_not_given_back_twice_on_partial_refunds(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, points={**POINTS, "pending_days": 0})
    member = new_member(sessions, m)
    _pos_order(sessions, m, member, "A-1", [(1, 100000)])  # 1000 points, available now
    req = CommitRequest(
        member_id=member,
        points=900,
        lines=[{"name": "Tea", "quantity": 3, "unit_price_minor": 10000}],
    )
    with transaction(sessions) as s:
        out = checkout.commit(s, m, req, "k-1", "clerk")
    assert (out.quote.points_redeemed, out.quote.points_to_earn) == (900, 427)
    assert balances(sessions, m, member)["points"] == 1000 - 900 + 427
    for i in range(3):  # three partial refunds, one unit each
        _refund(sessions, m, out.order_id, f"R-{i}", [(1, 1)])
    with transaction(sessions) as s:
        pay = s.scalar(select(OrderPayment).where(OrderPayment.order_id == out.order_id))
        assert pay is not None
        assert (pay.points_returned, pay.points_taken_back) == (900, 427)
    assert balances(sessions, m, member)["points"] == 1000
    with transaction(sessions) as s:
        assert verify(s) == []


def _spent_before_refund(
    sessions: sessionmaker[Session], clock: FrozenClock, m: int, member: int
) -> int:
    """Earn 300 points (released), spend 200 of them elsewhere, then refund the purchase."""
    order = _pos_order(sessions, m, member, "A-1", [(1, 30000)])
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        release_pending_points(s, m)
    req = CommitRequest(
        member_id=member,
        points=200,
        lines=[{"name": "Cup", "quantity": 1, "unit_price_minor": 40000}],
    )
    with transaction(sessions) as s:
        spent = checkout.commit(s, m, req, "k-spend", "clerk")
    assert balances(sessions, m, member)["points"] == 100
    # the second order earns 400 pending points; refund the first one
    assert spent.quote.points_to_earn == 400
    _refund(sessions, m, order, "R-1")
    return order


def test_spent_points_before_refund_policy_debt(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, refund_policy={"spent_points": "debt"})
    member = new_member(sessions, m)
    _spent_before_refund(sessions, clock, m, member)
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"]) == (-200, 400)
    clock.advance(timedelta(days=8))  # the new points arrive and pay the debt first
    with transaction(sessions) as s:
        release_pending_points(s, m)
    assert balances(sessions, m, member)["points"] == 200
    with transaction(sessions) as s:
        assert verify(s) == []


def test_spent_points_before_refund_policy_cap(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, refund_policy={"spent_points": "cap"})
    member = new_member(sessions, m)
    order = _spent_before_refund(sessions, clock, m, member)
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"]) == (0, 400)
    with transaction(sessions) as s:
        pay = s.scalar(select(OrderPayment).where(OrderPayment.order_id == order))
        assert pay is not None and (pay.points_taken_back, pay.points_forgiven) == (100, 200)
        entry = s.scalar(
            select(JournalEntry).where(JournalEntry.reason_code == "purchase_refunded")
        )
        assert entry is not None and entry.reverses_entry_id == pay.earn_entry_id
        assert entry.rule_version == "refund_policy:v1"
        assert verify(s) == []


def test_tier_not_from_spendable_balance(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """Top-ups and bonus points raise balances, never the tier; spending never lowers it."""
    m = tenant.merchant_id
    typical_program(sessions, m, points={**POINTS, "welcome_bonus": 5000, "pending_days": 0})
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        assert bonuses.grant_welcome_bonus(s, m, member)
        stored_value.top_up(s, m, member, 600000, "big", "clerk")
    _pos_order(sessions, m, member, "A-1", [(1, 90000)])  # 900 growth: still silver
    with transaction(sessions) as s:
        row = member_tier(s, m, member)
        assert row is not None and row.tier_code == "silver"
    _pos_order(sessions, m, member, "A-2", [(1, 10000)])  # 1,000 growth earned: gold
    req = CommitRequest(
        member_id=member,
        points="max",
        stored_value="max",
        lines=[{"name": "Big", "quantity": 1, "unit_price_minor": 100}],
    )
    with transaction(sessions) as s:
        checkout.commit(s, m, req, "k-1", "clerk")
        row = member_tier(s, m, member)
        assert row is not None and row.tier_code == "gold"
    assert balances(sessions, m, member)["growth"] == 1000
