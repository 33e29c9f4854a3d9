"""Merging two members keeps the balances, lots, tier, coupons and messages of both (issue 2)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons.models import CouponCode
from patron.engagement.messages import enqueue_message
from patron.engagement.models import Message
from patron.ledger import service as ledger
from patron.ledger.models import JournalEntry, PointsLot
from patron.ledger.verify import verify
from patron.members.merge import merge_members
from patron.programs.stored_value import top_up
from patron.programs.tiers import member_tier
from tests.conftest import Tenant
from tests.coupons.helpers import issue, template
from tests.ledger.helpers import info
from tests.programs.helpers import balances, new_member, typical_program
from tests.programs.test_tiers_and_days import _order

ZERO = {
    "points": 0,
    "points_pending": 0,
    "growth": 0,
    "stored_principal": 0,
    "stored_bonus": 0,
    "commission": 0,
}


def _history(sessions: sessionmaker[Session], clock: FrozenClock, m: int) -> tuple[int, int]:
    keep = new_member(sessions, m, phone="+8613800000001")
    gone = new_member(sessions, m, phone="+8613800000002")
    _order(sessions, m, keep, "K-1", 30000)  # 300 points pending, silver
    _order(sessions, m, gone, "G-1", 120000)  # 1200 points pending, gold
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        ledger.release_pending_points(s, m)
        ledger.spend_points(s, m, gone, 500, info("redeem", "Points paid part of order G-2"))
        top_up(s, m, gone, 10000, "tu-1", "apikey:1")  # 100.00 + 20.00 bonus
        enqueue_message(
            s,
            m,
            gone,
            "in_app",
            topic="service",
            kind="transactional",
            dedupe_key="hello-gone",
            content={"en": {"title": "Hi", "body": "Hello"}},
        )
    _order(sessions, m, gone, "G-3", 10000)  # 150 points (gold) still pending at the merge
    issue(sessions, m, template(sessions, m), gone)
    return keep, gone


def test_merge_moves_balances_lots_tier_coupons_messages(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m)
    keep, gone = _history(sessions, clock, m)
    with transaction(sessions) as s:
        assert member_tier(s, m, gone).tier_code == "gold"  # type: ignore[union-attr]
        merge_members(s, m, keep, gone)

    assert balances(sessions, m, keep) == {
        **ZERO,
        "points": 300 + 1200 - 500,
        "points_pending": 150,  # gold earns 1.5 points per 1.00
        "growth": 300 + 1200 + 100,
        "stored_principal": 10000,
        "stored_bonus": 2000,
    }
    assert balances(sessions, m, gone) == ZERO
    with transaction(sessions) as s:
        assert verify(s, m) == []
        tier = member_tier(s, m, keep)
        assert tier is not None and tier.tier_code == "gold"
        assert member_tier(s, m, gone) is None
        moved = s.scalars(
            select(JournalEntry.description)
            .where(JournalEntry.reason_code == "member_merge")
            .order_by(JournalEntry.id)
        ).all()
        assert len(moved) == 5  # points, pending points, growth, principal, bonus
        assert f"Points moved from merged member record {gone} to member {keep}" in moved
        lots = s.execute(select(PointsLot.member_id, func.count()).group_by(PointsLot.member_id))
        assert dict(lots.all()) == {keep: 3}  # K-1, G-1 (part spent), G-3 (pending)
        assert s.scalars(select(CouponCode.member_id)).all() == [keep]
        assert s.scalars(select(Message.member_id)).all() == [keep]
    # The moved lots work on the kept member: spend all, release the pending ones.
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        ledger.release_pending_points(s, m)
        ledger.spend_points(s, m, keep, 1150, info("redeem", "Points paid part of order K-2"))
        assert verify(s, m) == []
    assert balances(sessions, m, keep)["points"] == 0


def test_merge_lets_points_pay_a_debt(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m)
    keep = new_member(sessions, m, phone="+8613800000001")
    gone = new_member(sessions, m, phone="+8613800000002")
    with transaction(sessions) as s:
        earned = ledger.earn_points(s, m, gone, 100, info())
        ledger.spend_points(s, m, gone, 100, info("redeem", "Points paid order 2"))
        ledger.take_back_points(
            s, m, earned.id, 40, info("refund", "Order 1 refunded"), allow_debt=True
        )
        ledger.earn_points(s, m, keep, 100, info())
    with transaction(sessions) as s:
        merge_members(s, m, keep, gone)
    assert balances(sessions, m, keep)["points"] == 60
    assert balances(sessions, m, gone)["points"] == 0
    with transaction(sessions) as s:
        assert verify(s, m) == []
