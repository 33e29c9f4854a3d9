"""Issuing: limits, bulk counts, events once per member, expiry, void, restore on refund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.events import OutboxEvent
from patron.coupons import automation, service
from patron.coupons.models import CouponCode, CouponTemplate
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.orders.schemas import RefundCreate
from patron.orders.service import refund_order
from tests.conftest import Tenant
from tests.coupons.helpers import checkout, issue, template
from tests.programs.helpers import add_products, new_member, typical_program


def codes_of(sessions: sessionmaker[Session], template_id: int) -> list[CouponCode]:
    with transaction(sessions) as s:
        return list(s.scalars(select(CouponCode).where(CouponCode.template_id == template_id)))


def test_limits_total_and_per_member(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    mid = tenant.merchant_id
    a = new_member(sessions, mid)
    b = new_member(sessions, mid, phone="+8613800000002")
    tid = template(sessions, mid, total_limit=3, per_member_limit=2)
    issue(sessions, mid, tid, a)
    issue(sessions, mid, tid, a)
    with pytest.raises(PatronError) as err:
        issue(sessions, mid, tid, a)
    assert err.value.code == "coupon_member_limit_reached"
    issue(sessions, mid, tid, b)
    with pytest.raises(PatronError) as err:
        issue(sessions, mid, tid, b)
    assert err.value.code == "coupon_issue_limit_reached"
    with transaction(sessions) as s:
        assert s.get(CouponTemplate, tid).issued_count == 3  # type: ignore[union-attr]
    codes = codes_of(sessions, tid)
    assert sorted(c.member_id for c in codes) == sorted([a, a, b])  # type: ignore[type-var]
    assert all(len(c.code) == 10 and not set(c.code) & set("01ILO") for c in codes)


def test_bulk_issue_counts_and_skips(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    mid = tenant.merchant_id
    members = [new_member(sessions, mid, phone=f"+86138000000{i:02d}") for i in range(1, 6)]
    tid = template(sessions, mid, per_member_limit=1, total_limit=6, valid_days=30)
    issue(sessions, mid, tid, members[0])
    with transaction(sessions) as s:
        issued, skipped = service.issue_bulk(s, mid, tid, [*members, members[1], 999_999])
    assert (issued, skipped) == (4, 2)  # members[0] at its limit, 999999 unknown
    late = [new_member(sessions, mid, phone=f"+86138000000{i}") for i in (98, 99)]
    with pytest.raises(PatronError) as err, transaction(sessions) as s:
        service.issue_bulk(s, mid, tid, late)  # 2 wanted, 1 left of 6: all or nothing
    assert err.value.code == "coupon_issue_limit_reached"
    codes = codes_of(sessions, tid)
    assert len(codes) == 5 and len({c.code for c in codes}) == 5
    assert all(c.expires_at == c.issued_at + timedelta(days=30) for c in codes)
    with transaction(sessions) as s:
        events = s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "coupon.issued")
        )
    assert events == 5


def test_welcome_coupon_once_per_member_even_if_read_twice(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    mid = tenant.merchant_id
    tid = template(sessions, mid, auto_issue_on=["welcome"], valid_days=14)
    with transaction(sessions) as s:
        joined = create_member(s, mid, MemberCreate(first_name="Mei", registered=True)).id
        create_member(s, mid, MemberCreate(first_name="Contact", registered=False))
    for _ in range(2):
        with transaction(sessions) as s:
            automation.follow_events(s)
        with transaction(sessions) as s:  # the cursor goes back: the events are read again
            s.execute(text("UPDATE outbox_cursors SET last_event_id = 0 WHERE name = 'coupons'"))
    codes = codes_of(sessions, tid)
    assert [(c.member_id, c.source, c.reason_key) for c in codes] == [
        (joined, "welcome", "welcome")
    ]


def test_expire_void_and_restore_after_a_full_refund(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    mid = tenant.merchant_id
    typical_program(sessions, mid)
    add_products(sessions, mid)
    m = new_member(sessions, mid)
    tid = template(sessions, mid, valid_days=10)
    used, spare, lapsing = (issue(sessions, mid, tid, m) for _ in range(3))
    out = checkout(sessions, mid, m, "k1", [{"sku": "TEA-1", "quantity": 1}], [used])
    assert out["quote"]["discount_minor"] == 1000 and out["quote"]["total_minor"] == 11800
    with pytest.raises(PatronError) as err:
        checkout(sessions, mid, m, "k2", [{"sku": "TEA-1", "quantity": 1}], [used])
    assert err.value.code == "coupon_not_usable"
    with transaction(sessions) as s:
        spare_id = s.scalar(select(CouponCode.id).where(CouponCode.code == spare))
        assert spare_id is not None
        service.void_code(s, mid, spare_id, "printed by mistake", "manager")
    with pytest.raises(PatronError) as err, transaction(sessions) as s:
        service.void_code(s, mid, spare_id, "again", "manager")
    assert err.value.code == "coupon_not_voidable"
    with transaction(sessions) as s:
        refund_order(s, mid, out["order_id"], RefundCreate(external_id="R1"))
        automation.follow_events(s)
    statuses = {c.code: c.status for c in codes_of(sessions, tid)}
    assert statuses == {used: "issued", spare: "voided", lapsing: "issued"}
    clock.advance(timedelta(days=10))
    with transaction(sessions) as s:
        assert service.expire_due(s) == 2
    statuses = {c.code: c.status for c in codes_of(sessions, tid)}
    assert statuses == {used: "expired", spare: "voided", lapsing: "expired"}
