"""One ledger entry per purchase and one per refund (ADR 0373), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation
from patron.ledger import queries
from patron.ledger.models import (
    JournalEntry,
    LedgerAccount,
    PointsAllocation,
    PointsLot,
    Posting,
)
from patron.ledger.service import EntryInfo, expire_points, release_pending_points, reverse_entry
from patron.ledger.verify import verify
from patron.orders.models import Order
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate
from patron.orders.service import create_order, refund_order
from patron.programs import stored_value
from patron.programs.models import OrderPayment
from tests.conftest import Tenant
from tests.programs.helpers import balances, new_member, typical_program


def _postings(s: Session, entry_id: int) -> dict[tuple[str, str], int]:
    """(member|merchant, account code) -> amount, for one entry."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    rows = s.execute(
        select(LedgerAccount.member_id, LedgerAccount.code, Posting.amount)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
    )
    for member_id, code, amount in rows:
        out[("member" if member_id else "merchant", code)] += amount
    return dict(out)


def _sums_per_asset(s: Session, entry_id: int) -> dict[str, int]:
    rows = s.execute(
        select(Posting.asset, func.sum(Posting.amount))
        .where(Posting.entry_id == entry_id)
        .group_by(Posting.asset)
    )
    return {asset: int(total) for asset, total in rows}


def _member_with_points_and_value(
    sessions: sessionmaker[Session], clock: FrozenClock, m: int
) -> tuple[int, int]:
    """300 points released from a first order (one lot), and a top-up of 100.00 (+20.00 bonus).
    Returns (member, the lot of the 300 points)."""
    typical_program(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        create_order(
            s,
            m,
            OrderCreate(
                external_id="A-1",
                member_id=member,
                lines=[OrderLineIn(name="Tea", quantity=1, unit_price_minor=30000)],
            ),
        )
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        release_pending_points(s, m)
        stored_value.top_up(s, m, member, 10000, "t-1", "clerk")
        lot = s.scalar(select(PointsLot.id).where(PointsLot.member_id == member))
    assert lot is not None
    return member, lot


def _buy(sessions: sessionmaker[Session], m: int, member: int) -> tuple[int, int]:
    """400.00 paid with 200 points, 30.00 stored value and cash. Returns (order, entry)."""
    req = CommitRequest(
        member_id=member,
        points=200,
        stored_value=3000,
        lines=[{"name": "Pot", "quantity": 1, "unit_price_minor": 40000}],
    )
    with transaction(sessions) as s:
        out = checkout.commit(s, m, req, "k-1", "clerk")
        pay = s.scalar(select(OrderPayment).where(OrderPayment.order_id == out.order_id))
        assert pay is not None and pay.earn_entry_id is not None
        assert pay.earn_entry_id == pay.spend_entry_id == pay.value_entry_id
        return out.order_id, pay.earn_entry_id


def test_purchase_posts_one_entry(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member, first_lot = _member_with_points_and_value(sessions, clock, m)
    order, entry_id = _buy(sessions, m, member)
    with transaction(sessions) as s:
        entries = list(s.scalars(select(JournalEntry).where(JournalEntry.object_type == "order")))
        mine = [e for e in entries if e.object_id == str(order)]
        assert [e.id for e in mine] == [entry_id]
        entry = mine[0]
        assert entry.reason_code == "purchase"
        # the 400.00 paid earns 400 points (pending 7 days, default earn base: after discounts,
        # redemptions count as paid) and 400 growth
        ext = s.scalar(select(Order.external_id).where(Order.id == order))
        assert entry.description == (
            f"Order {ext}: 200 points paid CN¥2.00, CN¥30.00 stored value used, 400 growth earned, "
            "400 points earned (pending)"
        )
        assert _postings(s, entry_id) == {
            ("member", "points"): -200,
            ("merchant", "points_redeemed"): 200,
            ("member", "stored_principal"): -3000,
            ("merchant", "stored_redeemed"): 3000,
            ("member", "growth"): 400,
            ("merchant", "growth_issued"): -400,
            ("member", "points_pending"): 400,
            ("merchant", "points_pending_issued"): -400,
        }
        assert _sums_per_asset(s, entry_id) == {
            "points": 0,
            "points_pending": 0,
            "stored_principal": 0,
            "growth": 0,
        }
        spent = s.execute(
            select(PointsAllocation.lot_id, PointsAllocation.kind, PointsAllocation.amount).where(
                PointsAllocation.entry_id == entry_id
            )
        ).all()
        assert [tuple(r) for r in spent] == [(first_lot, "spend", 200)]
        new_lot = s.scalar(select(PointsLot).where(PointsLot.entry_id == entry_id))
        assert new_lot is not None and (new_lot.amount, new_lot.released_at) == (400, None)
        lines, _ = queries.statement(s, m, member, limit=1)
        assert [ln.entry_id for ln in lines] == [entry_id]
        assert lines[0].amounts == {
            "points": -200,
            "stored_principal": -3000,
            "growth": 400,
            "points_pending": 400,
        }
        assert verify(s) == []
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"], b["stored_principal"], b["growth"]) == (
        100,
        400,
        7000,
        700,
    )


def _refund_all(sessions: sessionmaker[Session], m: int, order: int) -> tuple[int, str]:
    with transaction(sessions) as s:
        refund_order(s, m, order, RefundCreate(external_id="R-1"))
        ext = s.scalar(select(Order.external_id).where(Order.id == order))
        entry = s.scalar(select(JournalEntry).where(JournalEntry.object_type == "refund"))
        assert entry is not None and ext is not None
        return entry.id, ext


def _allocations(s: Session, entry_id: int) -> list[tuple[int, str, int]]:
    rows = s.execute(
        select(PointsAllocation.lot_id, PointsAllocation.kind, PointsAllocation.amount)
        .where(PointsAllocation.entry_id == entry_id)
        .order_by(PointsAllocation.id)
    )
    return [(r.lot_id, r.kind, r.amount) for r in rows]


def test_refund_posts_one_entry_and_points_go_back_to_their_lot(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member, first_lot = _member_with_points_and_value(sessions, clock, m)
    order, purchase = _buy(sessions, m, member)
    refund, ext = _refund_all(sessions, m, order)
    with transaction(sessions) as s:
        entries = list(s.scalars(select(JournalEntry).where(JournalEntry.object_type == "refund")))
        assert [e.id for e in entries] == [refund]
        entry = entries[0]
        assert (entry.reason_code, entry.reverses_entry_id) == ("purchase_refunded", purchase)
        assert entry.description == (
            f"Refund of order {ext}: 200 points given back, 400 points taken back, "
            "CN¥30.00 stored value back, 400 growth taken back"
        )
        assert _postings(s, refund) == {
            ("member", "points"): 200,
            ("merchant", "points_redeemed"): -200,
            ("member", "points_pending"): -400,
            ("merchant", "points_pending_issued"): 400,
            ("member", "stored_principal"): 3000,
            ("merchant", "stored_redeemed"): -3000,
            ("member", "growth"): -400,
            ("merchant", "growth_issued"): 400,
        }
        assert set(_sums_per_asset(s, refund).values()) == {0}
        purchase_lot = s.scalar(select(PointsLot.id).where(PointsLot.entry_id == purchase))
        assert _allocations(s, refund) == [
            (first_lot, "restore", -200),
            (purchase_lot, "reverse", 400),
        ]
        lots = s.execute(
            select(PointsLot.id, PointsLot.remaining)
            .where(PointsLot.member_id == member)
            .order_by(PointsLot.id)
        ).all()
        assert [tuple(r) for r in lots] == [(first_lot, 300), (purchase_lot, 0)]  # no new lot
        assert verify(s) == []
    b = balances(sessions, m, member)
    assert (b["points"], b["points_pending"], b["stored_principal"], b["growth"]) == (
        300,
        0,
        10000,
        300,
    )


def test_points_given_back_to_an_expired_lot_come_back_expired(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member, first_lot = _member_with_points_and_value(sessions, clock, m)
    order, purchase = _buy(sessions, m, member)
    # the first lot (100 left) expires 12 months after it became available; the purchase's
    # lot (400) is released 7 days after the purchase and expires 12 months after that
    clock.advance(timedelta(days=368))
    with transaction(sessions) as s:
        assert release_pending_points(s, m) == 1
        assert expire_points(s, m) == 1
    assert balances(sessions, m, member)["points"] == 400
    refund, ext = _refund_all(sessions, m, order)
    with transaction(sessions) as s:
        entry = s.get(JournalEntry, refund)
        assert entry is not None
        assert entry.description == (
            f"Refund of order {ext}: 200 points given back (200 of them already expired), "
            "400 points taken back, CN¥30.00 stored value back, 400 growth taken back"
        )
        assert _postings(s, refund) == {
            ("member", "points"): 200 - 200 - 400,
            ("merchant", "points_redeemed"): -200,
            ("merchant", "points_expired"): 200,
            ("merchant", "points_issued"): 400,
            ("member", "stored_principal"): 3000,
            ("merchant", "stored_redeemed"): -3000,
            ("member", "growth"): -400,
            ("merchant", "growth_issued"): 400,
        }
        purchase_lot = s.scalar(select(PointsLot.id).where(PointsLot.entry_id == purchase))
        assert _allocations(s, refund) == [
            (first_lot, "restore", -200),
            (first_lot, "expire", 200),
            (purchase_lot, "reverse", 400),
        ]
        remaining = s.scalars(
            select(PointsLot.remaining).where(PointsLot.member_id == member).order_by(PointsLot.id)
        ).all()
        assert list(remaining) == [0, 0]  # the expired lot did not come back to life
        assert verify(s) == []
    assert balances(sessions, m, member)["points"] == 0


def test_reverse_entry_refuses_a_whole_purchase(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    member, _ = _member_with_points_and_value(sessions, clock, m)
    _, purchase = _buy(sessions, m, member)
    before = balances(sessions, m, member)
    with transaction(sessions) as s:
        entries = s.scalar(select(func.count()).select_from(JournalEntry))
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        reverse_entry(s, m, purchase, EntryInfo("correction", "Undo", "staff:1"))
    assert err.value.code == "entry_is_a_purchase"
    assert balances(sessions, m, member) == before
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == entries
