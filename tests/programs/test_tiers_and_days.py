"""Tiers up at once, down only at evaluation (or back to the kept tier after a refund);
member day in the merchant's time zone; birthday points once a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import QuoteRequest
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger.models import JournalEntry
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate
from patron.orders.service import create_order, refund_order
from patron.programs.models import TierChange
from patron.programs.tasks import programs_schedule
from patron.programs.tiers import member_tier
from tests.conftest import Tenant
from tests.programs.helpers import MEMBER_DAY, POINTS, balances, new_member, typical_program


def _order(sessions: sessionmaker[Session], m: int, member: int, ext: str, amount: int) -> int:
    with transaction(sessions) as s:
        order, _ = create_order(
            s,
            m,
            OrderCreate(
                external_id=ext,
                member_id=member,
                lines=[OrderLineIn(name="Goods", quantity=1, unit_price_minor=amount)],
            ),
        )
        return order.id


def _tier(sessions: sessionmaker[Session], m: int, member: int) -> tuple[str, str]:
    with transaction(sessions) as s:
        row = member_tier(s, m, member)
        assert row is not None
        return row.tier_code, row.floor_code


def test_tier_up_at_once_down_at_evaluation(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant, settings: Settings
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    _order(sessions, m, member, "A-1", 60000)
    assert _tier(sessions, m, member) == ("silver", "silver")
    _order(sessions, m, member, "A-2", 40000)
    assert _tier(sessions, m, member) == ("gold", "silver")
    clock.advance(timedelta(days=200))
    programs_schedule(sessions, settings)
    assert _tier(sessions, m, member) == ("gold", "silver")  # period not over yet
    clock.advance(timedelta(days=170))  # 370 days: evaluated on a window without the orders
    programs_schedule(sessions, settings)
    assert _tier(sessions, m, member) == ("silver", "silver")
    with transaction(sessions) as s:
        changes = s.scalars(select(TierChange).order_by(TierChange.id)).all()
        assert [(c.from_code, c.to_code, c.growth) for c in changes] == [
            ("silver", "gold", 1000),
            ("gold", "silver", 0),
        ]


def test_refund_takes_tier_back_to_the_kept_one(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    order = _order(sessions, m, member, "A-1", 120000)
    assert _tier(sessions, m, member) == ("gold", "silver")
    with transaction(sessions) as s:
        refund_order(s, m, order, RefundCreate(external_id="R-1"))
    assert _tier(sessions, m, member) == ("silver", "silver")
    assert balances(sessions, m, member)["growth"] == 0


def test_member_day_in_merchant_time_zone(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    # 16:30 UTC on the 9th is 00:30 on the 10th in Shanghai: member day
    clock.set(datetime(2026, 3, 9, 16, 30, tzinfo=UTC))
    typical_program(sessions, m, member_day=MEMBER_DAY)
    member = new_member(sessions, m)
    req = QuoteRequest(
        member_id=member, lines=[{"name": "T", "quantity": 1, "unit_price_minor": 10000}]
    )
    with transaction(sessions) as s:
        q = checkout.quote(s, m, req, secret="x")
    assert (q.member_day, q.total_minor, q.points_to_earn) == (True, 9500, 190)
    clock.set(datetime(2026, 3, 10, 16, 30, tzinfo=UTC))  # the 11th in Shanghai (Wednesday)
    with transaction(sessions) as s:
        q = checkout.quote(s, m, req, secret="x")
    assert (q.member_day, q.total_minor, q.points_to_earn) == (False, 10000, 100)


def test_birthday_points_once_a_year(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant, settings: Settings
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, points={**POINTS, "birthday_bonus": 88, "welcome_bonus": 10})
    # 2026-03-10 02:00 UTC is the 10th in Shanghai
    member = new_member(sessions, m, birthday=date(1990, 3, 10))
    other = new_member(sessions, m, phone="+8613800000002", birthday=date(1990, 3, 11))
    assert programs_schedule(sessions, settings) == 3  # two welcomes, one birthday
    assert programs_schedule(sessions, settings) == 0
    assert balances(sessions, m, member)["points"] == 98
    assert balances(sessions, m, other)["points"] == 10
    clock.advance(timedelta(days=365))
    programs_schedule(sessions, settings)
    assert balances(sessions, m, member)["points"] == 98 + 88 - 0
    with transaction(sessions) as s:
        n = s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.reason_code == "birthday_bonus")
        )
        assert n == 2
