"""A refund's preview is the refund itself, rolled back (ADR 0381): the figures it shows are the
ones the refund then records, and it writes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation
from patron.core.events import OutboxEvent
from patron.coupons import refunds as coupon_refunds
from patron.coupons import service as coupons
from patron.coupons.schemas import TemplateIn
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.ledger.service import release_pending_points
from patron.ledger.verify import verify
from patron.orders.models import Order, OrderLine, Refund
from patron.orders.refund_preview import preview_refund
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate, RefundLineIn
from patron.orders.service import create_order, record_refund
from patron.programs import stored_value
from patron.programs.models import OrderPayment
from tests.conftest import Tenant
from tests.programs.helpers import add_products, new_member, typical_program

SECRET = "test-secret-key-0123456789"


def _sale(sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant) -> tuple[int, int]:
    """A member with 300 points and 100.00 + 20.00 stored value buys 2 teas and a cup (301.00)
    with a 10.00 coupon, 300 points (3.00) and 50.00 of stored value. Returns (member, order)."""
    m = tenant.merchant_id
    typical_program(sessions, m)
    add_products(sessions, m)
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
        template = coupons.create_template(
            s, m, TemplateIn(name="Ten off", kind="amount_off", amount_off_minor=1000)
        )
        code = coupons.issue_code(s, m, template.id, member).code
    with transaction(sessions) as s:
        out = checkout.commit(
            s,
            m,
            CommitRequest(
                member_id=member,
                lines=[{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}],
                coupon_codes=[code],
                points=300,
                stored_value=5000,
            ),
            "till-1",
            "test",
            secret=SECRET,
        )
    assert (out.quote.total_minor, out.quote.cash_due_minor) == (29100, 23800)
    return member, out.order_id


def _state(sessions: sessionmaker[Session], tenant: Tenant, member: int) -> tuple[object, ...]:
    with sessions() as s:
        m = tenant.merchant_id
        order = s.scalars(select(Order).where(Order.external_id == "checkout-till-1")).one()
        lines = [
            (ln.refunded_quantity, ln.refunded_minor)
            for ln in s.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        ]
        pay = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
        return (
            order.status,
            order.refunded_minor,
            lines,
            (pay.points_returned, pay.points_taken_back, pay.principal_returned_minor),
            queries.member_balances(s, m, member).balances,
            s.scalar(select(func.count()).select_from(Refund)),
            s.scalar(select(func.count()).select_from(JournalEntry)),
            s.scalar(select(func.count()).select_from(OutboxEvent)),
        )


def test_preview_shows_what_the_refund_then_does_and_writes_nothing(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member, order_id = _sale(sessions, clock, tenant)
    m = tenant.merchant_id
    before = _state(sessions, tenant, member)
    wanted = RefundCreate(external_id="R-1", lines=[RefundLineIn(line_no=2, quantity=1)])
    with transaction(sessions) as s:
        preview = preview_refund(s, m, order_id, wanted)
        # The session goes on with the order as it was (the rollback expired what it touched).
        order = s.get(Order, order_id)
        assert order is not None and (order.status, order.refunded_minor) == ("completed", 0)
        fates = coupon_refunds.coupons_after_refund(s, m, order_id, preview.order_status)
    assert _state(sessions, tenant, member) == before
    # The cup paid 45.00 less its share of the coupon (1.50): 43.50 back. Of it, the share of
    # the stored value (5,000 × 4,350 / 29,100 → 7.47) and of the points (300 points paid
    # 3.00: 44 points, worth 0.44) go back to the member; 35.59 is handed back in cash.
    assert (preview.amount_minor, preview.order_status) == (4350, "partially_refunded")
    assert preview.lines == [{"line_no": 2, "sku": "CUP-1", "quantity": 1, "amount_minor": 4350}]
    o = preview.outcome
    assert (o.points_returned, o.points_value_minor) == (44, 44)
    assert (o.stored_principal_minor, o.stored_bonus_minor, o.cash_minor) == (747, 0, 3559)
    with sessions() as s:
        earned = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order_id)).one()
        cup_points = earned.line_earnings["2"][0]
    assert cup_points > 0 and o.points_taken_back == cup_points and o.points_forgiven == 0
    assert [(f.name, f.fate) for f in fates] == [("Ten off", "kept")]

    with transaction(sessions) as s:
        done = record_refund(s, m, order_id, wanted)
    assert done.created and done.outcome == preview.outcome
    assert done.order_status == preview.order_status and done.lines == preview.lines
    with sessions() as s:
        held = queries.member_balances(s, m, member).balances
    assert held["stored_principal"] == before[4]["stored_principal"] + 747  # type: ignore[index]
    # A replay records nothing and knows no outcome.
    with transaction(sessions) as s:
        again = record_refund(s, m, order_id, wanted)
    assert (again.created, again.outcome, again.refund.id) == (False, None, done.refund.id)
    with sessions() as s:
        assert verify(s) == []  # balances still equal their postings, lots their entries


def test_preview_of_the_rest_restores_the_coupon_and_refuses_too_much(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member, order_id = _sale(sessions, clock, tenant)
    m = tenant.merchant_id
    with transaction(sessions) as s:
        preview = preview_refund(s, m, order_id, RefundCreate(external_id="R-all"))
        fates = coupon_refunds.coupons_after_refund(s, m, order_id, preview.order_status)
    assert (preview.amount_minor, preview.order_status) == (29100, "refunded")
    o = preview.outcome
    # Everything back: 300 points, 50.00 of stored value, cash 291.00 − 50.00 − 3.00.
    assert (o.points_returned, o.stored_principal_minor, o.cash_minor) == (300, 5000, 23800)
    assert [(f.name, f.fate) for f in fates] == [("Ten off", "restored")]
    before = _state(sessions, tenant, member)
    too_many = RefundCreate(external_id="R-2", lines=[RefundLineIn(line_no=1, quantity=3)])
    with transaction(sessions) as s, pytest.raises(BusinessRuleViolation) as refused:
        preview_refund(s, m, order_id, too_many)
    assert refused.value.code == "refund_exceeds_quantity"
    assert _state(sessions, tenant, member) == before
