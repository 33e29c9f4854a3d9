"""Tests named after the known failures of loyalty systems (issue 3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons import mall
from patron.coupons.schemas import MallItemIn
from patron.ledger import queries
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


def _mall_gift(sessions: sessionmaker[Session], m: int, price: int) -> int:
    with transaction(sessions) as s:
        item = mall.create_item(
            s, m, MallItemIn(kind="gift", name="Celadon cup", points_price=price)
        )
        return item.id


def _redeem(sessions: sessionmaker[Session], m: int, member: int, item: int, key: str) -> int:
    with transaction(sessions) as s:
        return mall.redeem(s, m, member, item, 1, key, "test")[0].id


def _past_expiry_history(
    sessions: sessionmaker[Session], clock: FrozenClock, m: int, member: int
) -> int:
    """Leave the member 300 points past their date (not yet expired by the run) and 200 live
    ones; returns the order that earned the live lot (500 points, 300 of them spent)."""
    item = _mall_gift(sessions, m, 300)
    _pos_order(sessions, m, member, "A-1", [(1, 30000)])  # lot A: 300, expires 2026-04-11
    _redeem(sessions, m, member, item, "mall-1")  # spends lot A
    clock.advance(timedelta(days=20))
    order_b = _pos_order(sessions, m, member, "B-1", [(1, 50000)])  # lot B: 500, expires 05-01
    _redeem(sessions, m, member, item, "mall-2")  # spends 300 of lot B
    with transaction(sessions) as s:  # cancel the first: lot A gets its 300 back, date kept
        first = mall.list_orders(s, m, member_id=member)[-1]
        mall.update_order(s, m, first.id, "cancelled", "test", None)
    clock.advance(timedelta(days=16))  # 2026-04-15: lot A is past its date
    return order_b


def test_balances_with_points_past_expiry_are_exact_integers(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """Points past their date but not yet expired by the run: the split is exact whole numbers
    on every database (PostgreSQL's SUM of a bigint is a numeric)."""
    m = tenant.merchant_id
    expiring = {**POINTS, "pending_days": 0, "expiry": {"mode": "rolling", "months": 1}}
    typical_program(sessions, m, points=expiring)
    member = new_member(sessions, m)
    _past_expiry_history(sessions, clock, m, member)
    with transaction(sessions) as s:
        b = queries.member_balances(s, m, member)
    found = (b.balances["points"], b.points_spendable, b.points_past_expiry, b.points_pending)
    assert found == (500, 200, 300, 0)
    assert all(type(v) is int for v in found)


def test_cap_refund_takes_back_only_points_not_past_expiry(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """Cap policy: of the 500 points a refunded order earned, the member still holds 200 (the
    other 300 they hold are past their date): 200 are taken back, 300 forgiven, 300 expire."""
    m = tenant.merchant_id
    expiring = {**POINTS, "pending_days": 0, "expiry": {"mode": "rolling", "months": 1}}
    typical_program(sessions, m, points=expiring, refund_policy={"spent_points": "cap"})
    member = new_member(sessions, m)
    order_b = _past_expiry_history(sessions, clock, m, member)
    _refund(sessions, m, order_b, "R-B")
    with transaction(sessions) as s:
        pay = s.scalar(select(OrderPayment).where(OrderPayment.order_id == order_b))
        assert pay is not None
        assert (pay.points_taken_back, pay.points_forgiven) == (200, 300)
        refund = s.scalar(select(JournalEntry).where(JournalEntry.object_type == "refund"))
        assert refund is not None and refund.description == (
            "Refund of order B-1: 200 points taken back, 500 growth taken back"
        )
        expired = s.scalars(
            select(JournalEntry).where(JournalEntry.reason_code == "points_expired")
        ).all()
        assert [e.description for e in expired] == ["300 points earned on 2026-03-10 expired"]
        assert verify(s) == []
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"], b["growth"]) == (0, 0, 300)


def test_checkout_max_points_leaves_points_past_expiry_alone(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """``points: "max"`` spends the 200 spendable points, not the 300 past their date, and the
    amounts are exact whole numbers on every database."""
    m = tenant.merchant_id
    expiring = {**POINTS, "pending_days": 0, "expiry": {"mode": "rolling", "months": 1}}
    typical_program(sessions, m, points=expiring)
    member = new_member(sessions, m)
    _past_expiry_history(sessions, clock, m, member)
    req = CommitRequest(
        member_id=member,
        points="max",
        lines=[{"name": "Tea", "quantity": 1, "unit_price_minor": 100000}],
    )
    with transaction(sessions) as s:
        out = checkout.commit(s, m, req, "k-max", "clerk")
    q = out.quote
    assert (q.points_redeemed, q.points_value_minor) == (200, 200)
    assert type(q.points_redeemed) is int and type(q.points_value_minor) is int
    b = balances(sessions, m, member)
    assert b["points"] == q.points_to_earn  # 300 expired, 200 spent, the new points earned
    with transaction(sessions) as s:
        assert verify(s) == []
