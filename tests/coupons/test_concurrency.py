"""On PostgreSQL, with real threads: limits hold under concurrent tills."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.errors import PatronError
from patron.coupons import service
from patron.coupons.models import CouponCode, CouponTemplate
from patron.orders.schemas import OrderCreate
from patron.orders.service import create_order
from tests.conftest import make_tenant
from tests.coupons.helpers import issue, template
from tests.programs.helpers import new_member

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def test_concurrent_checkout_cannot_overspend_coupon_limit(pg_only_engine: Engine) -> None:
    sessions = make_session_factory(pg_only_engine, FrozenClock(NOW))
    t = make_tenant(sessions, "race")
    mid = t.merchant_id
    members = [new_member(sessions, mid, phone=f"+86138000001{i:02d}") for i in range(30)]
    tid = template(sessions, mid, total_limit=10)

    def issue_one(member_id: int) -> str:
        try:
            with transaction(sessions) as s:
                service.issue_code(s, mid, tid, member_id)
            return "ok"
        except PatronError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(issue_one, members))
    assert results.count("ok") == 10
    assert results.count("coupon_issue_limit_reached") == 20
    with transaction(sessions) as s:
        assert s.get(CouponTemplate, tid).issued_count == 10  # type: ignore[union-attr]
        assert len(list(s.scalars(select(CouponCode).where(CouponCode.template_id == tid)))) == 10

    code = issue(sessions, mid, template(sessions, mid), members[0])
    orders = []
    with transaction(sessions) as s:
        code_id = s.scalar(select(CouponCode.id).where(CouponCode.code == code))
        for i in range(20):
            order, _ = create_order(
                s,
                mid,
                OrderCreate(
                    external_id=f"O{i}",
                    lines=[{"name": "tea", "quantity": 1, "unit_price_minor": 5000}],
                ),
            )
            orders.append(order.id)
    assert code_id is not None

    def redeem(order_id: int) -> str:
        try:
            with transaction(sessions) as s:
                service.redeem_code(s, mid, code_id, order_id, NOW)
            return "ok"
        except PatronError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(redeem, orders))
    assert results.count("ok") == 1
    assert results.count("coupon_already_used") == 19
    with transaction(sessions) as s:
        row = s.get(CouponCode, code_id)
        assert row is not None and row.status == "redeemed"
        assert row.redeemed_order_id == orders[results.index("ok")]
