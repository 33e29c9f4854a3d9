"""The purchase summary cached on each member (orders count, net spend, first/last purchase).

It is derivable from orders; it is cached because lists, search, segments and the funnel read it
constantly. ``refresh_member_summary`` recomputes it set-based for the members given.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from patron.members.models import Member
from patron.orders.models import Order, OrderStatus

COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def refresh_member_summary(session: Session, merchant_id: int, member_ids: Iterable[int]) -> None:
    """Recompute orders_count, total_spent_minor, first_order_at, last_order_at from orders.

    Only purchases that were not fully refunded or cancelled count; spend is net of refunds.
    """
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        agg = {
            row.member_id: row
            for row in session.execute(
                select(
                    Order.member_id,
                    func.count().label("n"),
                    func.sum(Order.total_minor - Order.refunded_minor).label("spent"),
                    func.min(Order.placed_at).label("first"),
                    func.max(Order.placed_at).label("last"),
                )
                .where(
                    Order.merchant_id == merchant_id,
                    Order.member_id.in_(chunk),
                    Order.status.in_(COUNTED),
                )
                .group_by(Order.member_id)
            )
        }
        params = []
        for member_id in chunk:
            row = agg.get(member_id)
            params.append(
                {
                    "b_id": member_id,
                    "b_n": row.n if row else 0,
                    "b_spent": int(row.spent or 0) if row else 0,
                    "b_first": row.first if row else None,
                    "b_last": row.last if row else None,
                }
            )
        table = Member.__table__
        assert isinstance(table, Table)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                orders_count=bindparam("b_n"),
                total_spent_minor=bindparam("b_spent"),
                first_order_at=bindparam("b_first", type_=table.c.first_order_at.type),
                last_order_at=bindparam("b_last", type_=table.c.last_order_at.type),
            ),
            params,
        )
    session.expire_all()
