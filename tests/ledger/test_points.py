"""Points lots: the known failures of loyalty systems, each as a test (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, Conflict
from patron.core.events import OutboxEvent
from patron.ledger import service as ledger
from patron.ledger.models import JournalEntry, PointsAllocation, PointsLot
from patron.ledger.queries import member_balances
from patron.ledger.verify import verify
from tests.conftest import Tenant
from tests.ledger.helpers import balance, info, make_members, points

DAY = timedelta(days=1)


def lots_left(session: Session, member_id: int) -> list[int]:
    return list(
        session.scalars(
            select(PointsLot.remaining)
            .where(PointsLot.member_id == member_id)
            .order_by(PointsLot.id)
        )
    )


def test_earn_opens_lot_and_balances(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        posted = ledger.earn_points(
            s, tenant.merchant_id, m, 120, info(), expires_at=clock.now() + 365 * DAY
        )
    assert posted.balance_of(m, "points") == 120
    assert posted.balance_of(None, "points_issued") == -120
    with transaction(sessions) as s:
        assert points(s, m) == 120
        assert balance(s, None, "points_issued") == -120
        assert lots_left(s, m) == [120]
        kinds = list(s.scalars(select(OutboxEvent.type)))
        assert kinds == ["points.earned"]
        assert verify(s) == []


def test_spend_takes_earliest_expiring_lot_first(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    t0 = clock.now()
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 100, info(), expires_at=t0 + 300 * DAY)
        ledger.earn_points(s, tenant.merchant_id, m, 50, info(), expires_at=t0 + 30 * DAY)
        ledger.earn_points(s, tenant.merchant_id, m, 70, info(), expires_at=None)
    with transaction(sessions) as s:
        posted = ledger.spend_points(s, tenant.merchant_id, m, 80, info("redeem", "Redeemed"))
    with transaction(sessions) as s:
        # the 50 expiring in 30 days go first, then 30 of the 100; the never-expiring lot last
        assert lots_left(s, m) == [70, 0, 70]
        allocs = s.execute(
            select(PointsAllocation.lot_id, PointsAllocation.amount)
            .where(PointsAllocation.entry_id == posted.id)
            .order_by(PointsAllocation.id)
        ).all()
        lot_ids = list(s.scalars(select(PointsLot.id).order_by(PointsLot.id)))
        assert [(a.lot_id, a.amount) for a in allocs] == [(lot_ids[1], 50), (lot_ids[0], 30)]
        assert points(s, m) == 140
        assert verify(s) == []


def test_expiry_with_lot_half_spent(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 100, info(), expires_at=clock.now() + 10 * DAY)
        ledger.earn_points(s, tenant.merchant_id, m, 40, info(), expires_at=clock.now() + 90 * DAY)
        ledger.spend_points(s, tenant.merchant_id, m, 50, info("redeem", "Redeemed"))
    clock.advance(11 * DAY)
    with transaction(sessions) as s:
        assert member_balances(s, tenant.merchant_id, m).points_spendable == 40
        assert ledger.expire_points(s, tenant.merchant_id) == 1
        assert ledger.expire_points(s, tenant.merchant_id) == 0  # nothing expires twice
    with transaction(sessions) as s:
        # only the 50 left in the half-spent lot expire; the later lot is untouched
        assert lots_left(s, m) == [0, 40]
        assert points(s, m) == 40
        assert balance(s, None, "points_expired") == 50
        expired = s.scalar(select(JournalEntry).where(JournalEntry.reason_code == "points_expired"))
        assert expired is not None and expired.description.startswith("50 points earned on")
        assert verify(s) == []


def test_pending_points_not_spendable(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(
            s, tenant.merchant_id, m, 100, info(), available_at=clock.now() + 7 * DAY
        )
    with transaction(sessions) as s:
        b = member_balances(s, tenant.merchant_id, m)
        assert (b.points_spendable, b.points_pending) == (0, 100)
    with pytest.raises(BusinessRuleViolation) as err, transaction(sessions) as s:
        ledger.spend_points(s, tenant.merchant_id, m, 10, info("redeem", "Redeemed"))
    assert err.value.code == "insufficient_balance"
    with transaction(sessions) as s:
        assert ledger.release_pending_points(s, tenant.merchant_id) == 0  # window not over
    clock.advance(7 * DAY)
    with transaction(sessions) as s:
        assert ledger.release_pending_points(s, tenant.merchant_id) == 1
    with transaction(sessions) as s:
        b = member_balances(s, tenant.merchant_id, m)
        assert (b.points_spendable, b.points_pending) == (100, 0)
        ledger.spend_points(s, tenant.merchant_id, m, 10, info("redeem", "Redeemed"))
    with transaction(sessions) as s:
        assert points(s, m) == 90
        assert verify(s) == []


def test_overspend_rejected_and_nothing_changed(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 30, info())
    with transaction(sessions) as s:
        counts_before = (
            s.scalar(select(func.count()).select_from(JournalEntry)),
            s.scalar(select(func.count()).select_from(OutboxEvent)),
        )
    with transaction(sessions) as s:
        with pytest.raises(BusinessRuleViolation) as err:
            ledger.spend_points(s, tenant.merchant_id, m, 31, info("redeem", "Redeemed"))
        assert err.value.code == "insufficient_balance"
        # the caller carries on in the same transaction: the refused spend left nothing behind
    with transaction(sessions) as s:
        assert points(s, m) == 30
        assert balance(s, None, "points_redeemed") == 0
        assert lots_left(s, m) == [30]
        counts = (
            s.scalar(select(func.count()).select_from(JournalEntry)),
            s.scalar(select(func.count()).select_from(OutboxEvent)),
        )
        assert counts == counts_before
        assert verify(s) == []


def test_refund_takes_back_from_its_own_lot_first(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    t0 = clock.now()
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 50, info(), expires_at=t0 + 5 * DAY)
        earning = ledger.earn_points(s, tenant.merchant_id, m, 80, info())
        ledger.earn_points(s, tenant.merchant_id, m, 40, info(), expires_at=t0 + 200 * DAY)
        ledger.spend_points(s, tenant.merchant_id, m, 100, info("redeem", "Redeemed"))
        ledger.earn_points(s, tenant.merchant_id, m, 30, info())
    with transaction(sessions) as s:
        assert lots_left(s, m) == [0, 70, 0, 30]
        back = ledger.take_back_points(
            s, tenant.merchant_id, earning.id, 80, info("refund", "Refund of order 1")
        )
    with transaction(sessions) as s:
        # 70 from the refunded earning's own lot, the missing 10 from the next lot
        assert lots_left(s, m) == [0, 0, 0, 20]
        assert points(s, m) == 20
        entry = s.get(JournalEntry, back.id)
        assert entry is not None and entry.reverses_entry_id == earning.id
        assert verify(s) == []


def test_refund_of_spent_points_is_refused_unless_debt_allowed(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        earning = ledger.earn_points(s, tenant.merchant_id, m, 100, info())
        ledger.spend_points(s, tenant.merchant_id, m, 70, info("redeem", "Redeemed"))
    with pytest.raises(BusinessRuleViolation) as err, transaction(sessions) as s:
        ledger.take_back_points(s, tenant.merchant_id, earning.id, 100, info("refund", "Refund"))
    assert err.value.code == "insufficient_balance"
    with transaction(sessions) as s:
        ledger.take_back_points(
            s, tenant.merchant_id, earning.id, 100, info("refund", "Refund"), allow_debt=True
        )
    with transaction(sessions) as s:
        assert points(s, m) == -70
        assert lots_left(s, m) == [0]
        assert verify(s) == []
    with transaction(sessions) as s:  # new points pay the debt first
        ledger.earn_points(s, tenant.merchant_id, m, 100, info())
    with transaction(sessions) as s:
        assert points(s, m) == 30
        assert lots_left(s, m) == [0, 30]
        assert verify(s) == []
    with pytest.raises(BusinessRuleViolation) as err2, transaction(sessions) as s:
        ledger.take_back_points(s, tenant.merchant_id, earning.id, 1, info("refund", "Refund"))
    assert err2.value.code == "reversal_exceeds_earning"


def test_reversed_spend_gives_points_back_to_its_lots_once(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 100, info())
        spent = ledger.spend_points(s, tenant.merchant_id, m, 40, info("redeem", "Redeemed"))
    with transaction(sessions) as s:
        back = ledger.reverse_entry(s, tenant.merchant_id, spent.id, info("refund", "Refund"))
    with transaction(sessions) as s:
        assert points(s, m) == 100
        assert lots_left(s, m) == [100]
        entry = s.get(JournalEntry, back.id)
        assert entry is not None and entry.reverses_entry_id == spent.id
        assert verify(s) == []
    with pytest.raises(Conflict) as err, transaction(sessions) as s:
        ledger.reverse_entry(s, tenant.merchant_id, spent.id, info("refund", "Refund"))
    assert err.value.code == "already_reversed"
