"""post_moves: several moves of one member as one entry (ADR 0373), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, InvalidInput
from patron.ledger import service as ledger
from patron.ledger.models import Asset, JournalEntry, PointsAllocation, PointsLot
from patron.ledger.moves import Earn, post_moves
from patron.ledger.service import Leg
from patron.ledger.verify import verify
from tests.conftest import Tenant
from tests.ledger.helpers import balance, info, make_members, points

DAY = timedelta(days=1)


def _lots(s: Session, member_id: int) -> list[tuple[int, int]]:
    rows = s.execute(
        select(PointsLot.amount, PointsLot.remaining)
        .where(PointsLot.member_id == member_id)
        .order_by(PointsLot.id)
    )
    return [(r.amount, r.remaining) for r in rows]


def test_spend_and_earn_in_one_entry(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    m = tenant.merchant_id
    [member] = make_members(sessions, m, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, m, member, 100, info())
        ledger.adjust_balance(s, m, member, Asset.GROWTH, 5, info("goodwill", "Welcome"))
    legs = [Leg.member(member, Asset.GROWTH, 30), Leg.merchant("growth_issued", Asset.GROWTH, -30)]
    with transaction(sessions) as s:
        moved = post_moves(
            s,
            m,
            member,
            info("purchase", "Order 7"),
            legs=legs,
            spend=60,
            earn=Earn(25, expires_at=clock.now() + 30 * DAY),
        )
    assert moved.entry is not None and moved.lot_id is not None
    assert moved.entry.balance_of(member, "points") == 65
    assert moved.entry.balance_of(None, "points_redeemed") == 60
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 3
        assert (points(s, member), balance(s, member, "growth")) == (65, 35)
        assert (balance(s, None, "points_issued"), balance(s, None, "growth_issued")) == (-125, -30)
        assert _lots(s, member) == [(100, 40), (25, 25)]
        kinds = s.execute(
            select(PointsAllocation.kind, PointsAllocation.amount).where(
                PointsAllocation.entry_id == moved.entry.id
            )
        ).all()
        assert [tuple(k) for k in kinds] == [("spend", 60)]
        assert verify(s) == []


def test_balance_may_not_dip_below_zero_inside_the_entry(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    """Points earned by this entry cannot pay for what it spends: refused, nothing changed."""
    m = tenant.merchant_id
    [member] = make_members(sessions, m, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, m, member, 100, info())
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        post_moves(s, m, member, info("purchase", "Order 8"), spend=150, earn=Earn(100))
    assert err.value.code == "insufficient_balance"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert points(s, member) == 100
        assert balance(s, None, "points_redeemed") == 0
        assert _lots(s, member) == [(100, 100)]


def test_member_points_only_through_lots(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    m = tenant.merchant_id
    [member] = make_members(sessions, m, 1)
    legs = [Leg.member(member, Asset.POINTS, 5), Leg.merchant("points_issued", Asset.POINTS, -5)]
    with transaction(sessions) as s, pytest.raises(InvalidInput) as err:
        post_moves(s, m, member, info(), legs=legs)
    assert err.value.code == "points_need_lots"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 0


def test_lock_order_member_accounts_then_lots_then_merchant(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    """The merchant-side rows every till shares are locked last (after the entry's INSERTs)."""
    m = tenant.merchant_id
    [member] = make_members(sessions, m, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, m, member, 100, info())
        ledger.adjust_balance(s, m, member, Asset.STORED_PRINCIPAL, 500, info("top_up", "Cash"))
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if "UPDATE ledger_accounts" in statement:  # several accounts: one statement (WITH …)
            side = "member" if "allow_negative" in statement else "merchant"
            rows = statement.count("CAST(") // (5 if side == "member" else 2)
            seen.append(f"UPDATE {side} accounts ×{rows}")
        elif words[0] == "UPDATE" or (
            words[0] == "INSERT" and words[2] not in ("ledger_accounts", "outbox_events")
        ):
            seen.append(f"{words[0]} {words[2] if words[0] == 'INSERT' else words[1]}")

    legs = [
        Leg.member(member, Asset.STORED_PRINCIPAL, -200),
        Leg.merchant("stored_redeemed", Asset.STORED_PRINCIPAL, 200),
    ]
    with transaction(sessions) as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            post_moves(
                s,
                m,
                member,
                info("purchase", "Order 9"),
                legs=legs,
                spend=30,
                earn=Earn(10, available_at=clock.now() + 7 * DAY),
            )
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert seen == [
        "UPDATE member accounts ×3",  # points, stored value, pending points: by id
        "UPDATE points_lots",
        "INSERT journal_entries",
        "INSERT points_lots",
        "INSERT points_allocations",
        "UPDATE merchant accounts ×3",  # points_redeemed, stored_redeemed, points_pending_issued
        "INSERT ledger_postings",
    ]


def test_one_account_short_refuses_all_of_the_one_update(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    """Several member accounts move in one UPDATE: the one that would go below zero (stored
    value) refuses the whole entry — the others (points, growth) do not move either."""
    m = tenant.merchant_id
    [member] = make_members(sessions, m, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, m, member, 100, info())
        ledger.adjust_balance(s, m, member, Asset.STORED_PRINCIPAL, 500, info("top_up", "Cash"))
    legs = [
        Leg.member(member, Asset.STORED_PRINCIPAL, -501),
        Leg.merchant("stored_redeemed", Asset.STORED_PRINCIPAL, 501),
        Leg.member(member, Asset.GROWTH, 30),
        Leg.merchant("growth_issued", Asset.GROWTH, -30),
    ]
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as err:
        post_moves(s, m, member, info("purchase", "Order 10"), legs=legs, spend=40, earn=Earn(5))
    assert err.value.code == "insufficient_balance"
    assert err.value.details["asset"] == "stored_principal"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 2
        assert (points(s, member), balance(s, member, "stored_principal")) == (100, 500)
        assert balance(s, member, "growth") == 0
        assert (balance(s, None, "stored_redeemed"), balance(s, None, "growth_issued")) == (0, 0)
        assert _lots(s, member) == [(100, 100)]
        assert verify(s) == []
