"""The purchase summary cached on each member (orders count, net spend, first/last purchase).

It is derivable from orders; it is cached because lists, search, segments and the funnel read it
constantly. ``refresh_member_summary`` recomputes it set-based for the members given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Table, any_, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from patron.members.models import Member
from patron.orders.models import Order, OrderStatus

COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def refresh_member_summary(session: Session, merchant_id: int, member_ids: Iterable[int]) -> None:
    """Recompute orders_count, total_spent_minor, first_order_at, last_order_at from orders.

    Only purchases that were not fully refunded or cancelled count; spend is net of refunds.
    One UPDATE per 1,000 members with correlated aggregates: the database reads each member's
    orders through ``ix_orders_member`` and nothing travels to Python and back (an order
    import refreshes every member it touched, batch after batch).
    """
    ids = sorted(set(member_ids))
    session.flush()  # the statements below go to the connection, past the ORM's autoflush
    table = Member.__table__
    orders = Order.__table__
    assert isinstance(table, Table) and isinstance(orders, Table)

    def counted(*columns: ColumnElement[Any]) -> ScalarSelect[Any]:
        return (
            select(*columns)
            .where(
                orders.c.merchant_id == merchant_id,
                orders.c.member_id == table.c.id,
                orders.c.status.in_(COUNTED),
            )
            .scalar_subquery()
        )

    statement = update(table).values(
        orders_count=counted(func.count()),
        total_spent_minor=counted(
            func.coalesce(func.sum(orders.c.total_minor - orders.c.refunded_minor), 0)
        ),
        first_order_at=counted(func.min(orders.c.placed_at)),
        last_order_at=counted(func.max(orders.c.placed_at)),
    )
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        session.connection().execute(
            statement.where(table.c.merchant_id == merchant_id, id_in(table.c.id, chunk, session))
        )
    session.expire_all()


def id_in(column: Any, ids: list[int], session: Session) -> ColumnElement[bool]:
    """``column IN (ids)``; on PostgreSQL ``= ANY(array)``: one parameter, not a thousand (the
    driver parses a statement with a thousand placeholders anew each time, measured at ~15 ms)."""
    if session.get_bind().dialect.name == "postgresql":
        matches: ColumnElement[bool] = column == any_(bindparam(None, ids, type_=ARRAY(BigInteger)))
        return matches
    listed: ColumnElement[bool] = column.in_(ids)
    return listed
