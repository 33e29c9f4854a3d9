"""Where an import hands over to the members domain after each batch.

TEMPORARY until the lead's members service lands on main: ``refresh_member_summary`` is a local
set-based version of the same rule, and ``recompute_funnel`` is a clearly named no-op call site.
After merging main, both delegate to ``patron.members`` (one definition of each rule).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.members.models import Member
from patron.orders.models import Order, OrderStatus

COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def refresh_member_summary(session: Session, merchant_id: int, member_ids: Iterable[int]) -> None:
    """orders_count, total_spent_minor (net of refunds), first/last order, for these members;
    fully refunded and cancelled orders do not count."""
    ids = sorted(set(member_ids))
    mine = (
        Order.merchant_id == merchant_id,
        Order.member_id == Member.id,
        Order.status.in_(COUNTED),
    )
    for start in range(0, len(ids), 1000):
        session.execute(
            update(Member)
            .where(Member.merchant_id == merchant_id, Member.id.in_(ids[start : start + 1000]))
            .values(
                orders_count=select(func.count()).where(*mine).scalar_subquery(),
                total_spent_minor=select(
                    func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0)
                )
                .where(*mine)
                .scalar_subquery(),
                first_order_at=select(func.min(Order.placed_at)).where(*mine).scalar_subquery(),
                last_order_at=select(func.max(Order.placed_at)).where(*mine).scalar_subquery(),
                updated_at=utcnow(session),
            )
            .execution_options(synchronize_session=False)
        )


def recompute_funnel(
    session: Session, merchant_id: int, member_ids: Iterable[int], reason: str
) -> None:
    """CALL SITE for ``patron.members.service.recompute_funnel`` (not on main yet)."""
    del session, merchant_id, member_ids, reason
