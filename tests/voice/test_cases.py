"""After-sales cases: timers in business hours, replies through a channel, resolution actions
posted once and audited, the satisfaction answer (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.coupons import service as coupons
from patron.coupons.models import CouponCode
from patron.coupons.schemas import TemplateIn
from patron.engagement.config import MessageSettings
from patron.engagement.models import InboxItem, Message
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.ledger.service import Asset
from patron.ledger.verify import verify
from patron.orders.models import Order
from patron.voice import cases
from patron.voice.models import CaseEvent, ServiceCase
from tests.conftest import Tenant
from tests.engagement.conftest import dispatch
from tests.voice.helpers import lines_of
from tests.web.helpers import seed_member

SHANGHAI = ZoneInfo("Asia/Shanghai")
KEY = "k" * 20


@pytest.fixture
def cfg() -> MessageSettings:
    return MessageSettings(
        batch_size=50,
        lease_seconds=60,
        max_attempts=3,
        retry_base_seconds=30,
        unknown_grace_seconds=60,
        unknown_expiry_seconds=3600,
    )


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


def _open(sessions: sessionmaker[Session], tenant: Tenant, member_id: int, **more: object) -> int:
    with sessions() as s:
        coat = lines_of(s, member_id)[0]
    with transaction(sessions) as s:
        case = cases.open_case(
            s,
            tenant.merchant_id,
            member_id,
            kind="complaint",
            subject="Coat seam",
            body="Customer called: the seam opened after a week.",
            order_id=coat.order_id,
            line_ids=[coat.id],
            source="phone",
            actor="staff:1",
            **more,  # type: ignore[arg-type]
        )
        return case.id


def test_timers_count_business_hours_across_a_weekend(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    mei = seed_member(sessions, tenant)
    clock.set(_local(2026, 3, 13, 17, 0))  # Friday 17:00 in Shanghai
    case_id = _open(sessions, tenant, mei)
    clock.set(_local(2026, 3, 16, 10, 30))  # Monday 10:30
    with sessions() as s:
        t = cases.timers(s, cases.get_case(s, tenant.merchant_id, case_id))
        assert (t.first_response.used_minutes, t.first_response.breached) == (150, False)
    with transaction(sessions) as s:
        cases.reply(
            s, cases.get_case(s, tenant.merchant_id, case_id), "We will send a new one.", "staff:1"
        )
    clock.set(_local(2026, 3, 19, 12, 0))  # Thursday noon: resolution overdue
    with sessions() as s:
        case = cases.get_case(s, tenant.merchant_id, case_id)
        assert case.status == "waiting"
        assert case.first_response_at == _local(2026, 3, 16, 10, 30)
        t = cases.timers(s, case)
        assert (t.first_response.used_minutes, t.first_response.stopped) == (150, True)
        # Fri 60 + Mon 540 + Tue 540 + Wed 540 + Thu 180 minutes, target 3 × 540.
        assert (t.resolution.used_minutes, t.resolution.target_minutes) == (1860, 1620)
        assert t.resolution.breached


def test_reply_goes_through_the_channel_as_a_transactional_message(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    mei = seed_member(sessions, tenant)
    case_id = _open(sessions, tenant, mei)
    with transaction(sessions) as s:
        event = cases.reply(
            s,
            cases.get_case(s, tenant.merchant_id, case_id),
            "Sorry! A new coat is on its way.",
            "staff:1",
        )
        message_id = event.detail["message_id"]
    assert dispatch(sessions, settings, cfg) == 1
    with sessions() as s:
        message = s.get(Message, message_id)
        assert message is not None
        assert (message.kind, message.channel, message.status) == (
            "transactional",
            "in_app",
            "sent",
        )
        item = s.scalars(select(InboxItem).where(InboxItem.member_id == mei)).one()
        assert (item.title, item.body) == (
            "About your case: Coat seam",
            "Sorry! A new coat is on its way.",
        )


def _entries(s: Session, tenant: Tenant) -> int:
    return (
        s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.merchant_id == tenant.merchant_id)
        )
        or 0
    )


def test_goodwill_points_post_once_and_the_ledger_verifies(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mei = seed_member(sessions, tenant)
    case_id = _open(sessions, tenant, mei)
    with sessions() as s:
        before = queries.member_balances(s, tenant.merchant_id, mei).points_spendable
        entries = _entries(s, tenant)
    for _ in range(2):  # the form sent twice
        with transaction(sessions) as s:
            case = cases.get_case(s, tenant.merchant_id, case_id)
            cases.give_balance(s, case, Asset.POINTS, 300, "Sorry for the seam", "staff:7", KEY)
    with sessions() as s:
        assert queries.member_balances(s, tenant.merchant_id, mei).points_spendable == before + 300
        assert _entries(s, tenant) == entries + 1
        done = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "points")
        ).one()
        assert (done.actor, done.body, done.detail["amount"]) == (
            "staff:7",
            "Sorry for the seam",
            300,
        )
        entry = s.get(JournalEntry, done.detail["entry_id"])
        assert entry is not None and (entry.actor, entry.object_type, entry.object_id) == (
            "staff:7",
            "case",
            str(case_id),
        )
        assert verify(s) == []
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        cases.give_balance(
            s,
            cases.get_case(s, tenant.merchant_id, case_id),
            Asset.POINTS,
            0,
            "x",
            "staff:7",
            "z" * 20,
        )
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        cases.give_balance(
            s,
            cases.get_case(s, tenant.merchant_id, case_id),
            Asset.POINTS,
            5,
            " ",
            "staff:7",
            "z" * 20,
        )


def test_refund_stored_value_and_coupon_actions_use_the_existing_services(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mei = seed_member(sessions, tenant)
    case_id = _open(sessions, tenant, mei)
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    with transaction(sessions) as s:
        template = coupons.create_template(
            s,
            tenant.merchant_id,
            TemplateIn(name="Sorry ¥20", kind="amount_off", amount_off_minor=2000),
        )
        template_id = template.id
    for _ in range(2):
        with transaction(sessions) as s:
            case = cases.get_case(s, tenant.merchant_id, case_id)
            cases.refund(s, case, {coat.id: 1}, "Seam opened", "staff:7", "r" * 20)
            cases.give_balance(s, case, Asset.STORED_BONUS, 1500, "Goodwill", "staff:7", "s" * 20)
            cases.give_coupon(s, case, template_id, "Next time", "staff:7", "c" * 20)
    with sessions() as s:
        order = s.get(Order, coat.order_id)
        assert order is not None and order.refunded_minor == 12950 + 59900
        assert queries.member_balances(s, tenant.merchant_id, mei).balances["stored_bonus"] == 1500
        assert (
            s.scalar(
                select(func.count()).select_from(CouponCode).where(CouponCode.member_id == mei)
            )
            == 1
        )
        kinds = s.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()
        assert kinds == ["opened", "refund", "stored_value", "coupon"]
        assert verify(s) == []


def test_closing_asks_for_satisfaction_answered_once(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mei = seed_member(sessions, tenant)
    case_id = _open(sessions, tenant, mei)
    with pytest.raises(Conflict), transaction(sessions) as s:
        cases.answer_satisfaction(s, cases.get_case(s, tenant.merchant_id, case_id), 4)
    with transaction(sessions) as s:
        cases.update(s, cases.get_case(s, tenant.merchant_id, case_id), "staff:1", status="closed")
    with transaction(sessions) as s:
        cases.answer_satisfaction(s, cases.get_case(s, tenant.merchant_id, case_id), 4)
    with pytest.raises(Conflict), transaction(sessions) as s:
        cases.answer_satisfaction(s, cases.get_case(s, tenant.merchant_id, case_id), 5)
    with sessions() as s:
        case = s.get(ServiceCase, case_id)
        assert case is not None
        assert (case.status, case.satisfaction) == ("closed", 4)
        assert case.resolved_at == case.closed_at is not None
        asked = s.scalars(
            select(Message).where(Message.dedupe_key == f"case:{case_id}:satisfaction")
        ).one()
        assert asked.kind == "transactional"


def test_cases_belong_to_their_merchant_and_member(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    mei = seed_member(sessions, tenant)
    ann = seed_member(
        sessions, tenant, first="Ann", phone="+8613800138001", email=None, order_ref="A-2"
    )
    stranger = seed_member(sessions, other_tenant, order_ref="B-1")
    case_id = _open(sessions, tenant, mei)
    with sessions() as s:
        with pytest.raises(NotFound):
            cases.get_case(s, other_tenant.merchant_id, case_id)
        with pytest.raises(NotFound):
            cases.member_case(s, tenant.merchant_id, ann, case_id)
        ann_order = lines_of(s, ann)[0].order_id
        foreign_order = lines_of(s, stranger)[0].order_id
    # A case cannot point at another member's or another merchant's order.
    for order_id in (ann_order, foreign_order):
        with pytest.raises(NotFound), transaction(sessions) as s:
            cases.open_case(
                s,
                tenant.merchant_id,
                mei,
                kind="question",
                subject="?",
                body="",
                order_id=order_id,
                line_ids=[],
                source="member",
                actor=f"member:{mei}",
            )


def test_merging_members_moves_their_reviews_and_cases(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: object
) -> None:
    from pathlib import Path

    from patron.members.merge import merge_members
    from patron.voice import reviews
    from patron.voice.models import Review
    from patron.voice.storage import LocalStorage

    keep = seed_member(sessions, tenant)
    gone = seed_member(
        sessions, tenant, first="Ann", phone="+8613800138001", email=None, order_ref="A-2"
    )
    with sessions() as s:
        line = lines_of(s, gone)[0]
    with transaction(sessions) as s:
        reviews.write_review(
            s, tenant.merchant_id, gone, line.id, 1, "", [], LocalStorage(Path(str(tmp_path)))
        )
    with transaction(sessions) as s:
        merge_members(s, tenant.merchant_id, keep, gone)
    with sessions() as s:
        assert s.scalars(select(Review.member_id)).all() == [keep]
        assert s.scalars(select(ServiceCase.member_id)).all() == [keep]
