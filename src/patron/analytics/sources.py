"""What the analytics copy holds: one spec per operational table (adding a table is one entry).

Every spec's query names the analytics columns; ``local_times`` lists the UTC time columns that
also get a merchant-local twin (``placed_at`` → ``placed_local``). The program tables' specs
are in :mod:`patron.analytics.program_sources`; ``ALL_SPECS`` there is what a sync copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select

from patron.members.models import FunnelTransition, Member
from patron.orders.models import Order, OrderLine, Refund, RefundLine
from patron.tenancy.models import Merchant, Store

Mode = Literal["append", "updated", "full"]
# A select of any columns (SQLAlchemy 2.1 types a select by each column it returns).
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class TableSpec:
    """How one analytics table is read from the operational database."""

    name: str
    query: Callable[[], AnySelect]
    mode: Mode = "append"
    key: str = "id"
    # ``updated`` mode: the column whose growth marks a changed row.
    watermark: str = "updated_at"
    local_times: tuple[str, ...] = ()
    # Rows to read again because rows of another table arrived: given the trigger table's
    # (last synced id, current max id], a WHERE clause naming them (orders touched by refunds).
    refresh_by: Callable[[int, int], ColumnElement[bool]] | None = None
    trigger_max: Callable[[], AnySelect] | None = None


def refunded_orders(lo: int, hi: int) -> AnySelect:
    """Orders named by refunds with id in (lo, hi]."""
    return select(Refund.order_id).where(Refund.id > lo, Refund.id <= hi)


def max_refund_id() -> AnySelect:
    return select(func.max(Refund.id))


ORDER_COLUMNS = (
    Order.id,
    Order.merchant_id,
    Order.member_id,
    Order.store_id,
    Order.channel,
    Order.status,
    Order.placed_at,
    Order.currency,
    Order.subtotal_minor,
    Order.discount_minor,
    Order.total_minor,
    Order.refunded_minor,
    Order.source,
    Order.created_at,
)
LINE_COLUMNS = (
    OrderLine.id,
    OrderLine.merchant_id,
    OrderLine.order_id,
    OrderLine.line_no,
    OrderLine.sku,
    OrderLine.category,
    OrderLine.quantity,
    OrderLine.unit_price_minor,
    OrderLine.discount_minor,
    OrderLine.total_minor,
    OrderLine.refunded_quantity,
    OrderLine.refunded_minor,
)
MEMBER_COLUMNS = (
    Member.id,
    Member.merchant_id,
    Member.gender,
    Member.birthday,
    Member.source,
    Member.home_store_id,
    Member.registered_at,
    Member.funnel_stage,
    Member.orders_count,
    Member.total_spent_minor,
    Member.first_order_at,
    Member.last_order_at,
    Member.merged_into_id,
    Member.created_at,
    Member.updated_at,
)


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "merchants", lambda: select(Merchant.id, Merchant.currency, Merchant.timezone), "full"
    ),
    TableSpec(
        "stores",
        lambda: select(
            Store.id, Store.merchant_id, Store.code, Store.name, Store.channel, Store.city
        ),
        "full",
    ),
    TableSpec(
        "members",
        lambda: select(*MEMBER_COLUMNS),
        "updated",
        local_times=("registered_at", "created_at"),
    ),
    TableSpec(
        "orders",
        lambda: select(*ORDER_COLUMNS),
        local_times=("placed_at",),
        refresh_by=lambda lo, hi: Order.id.in_(refunded_orders(lo, hi)),
        trigger_max=max_refund_id,
    ),
    TableSpec(
        "order_lines",
        lambda: select(*LINE_COLUMNS),
        refresh_by=lambda lo, hi: OrderLine.order_id.in_(refunded_orders(lo, hi)),
        trigger_max=max_refund_id,
    ),
    TableSpec(
        "refunds",
        lambda: select(
            Refund.id, Refund.merchant_id, Refund.order_id, Refund.refunded_at, Refund.amount_minor
        ),
        local_times=("refunded_at",),
    ),
    TableSpec(
        "refund_lines",
        lambda: select(
            RefundLine.id,
            RefundLine.merchant_id,
            RefundLine.refund_id,
            RefundLine.order_line_id,
            RefundLine.quantity,
            RefundLine.amount_minor,
        ),
    ),
    TableSpec(
        "funnel_transitions",
        lambda: select(
            FunnelTransition.id,
            FunnelTransition.merchant_id,
            FunnelTransition.member_id,
            FunnelTransition.from_stage,
            FunnelTransition.to_stage,
            FunnelTransition.moved_at,
        ),
        local_times=("moved_at",),
    ),
)


def local_name(column: str) -> str:
    """``placed_at`` → ``placed_local``."""
    return column.removesuffix("_at") + "_local"
