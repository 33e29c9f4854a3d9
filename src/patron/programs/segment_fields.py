"""Segment rule fields about loyalty programs: tier and balances (registered in
``patron.core.member_fields``; the segments of engagement find this module by name). Every
change to them emits an event naming the member (``tier.changed``, ``points.*``,
``stored_value.*``, ``order.*``), so materialised segments follow them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from patron.core.member_fields import (
    COMPARE,
    Context,
    ValueKind,
    compare,
    register_field,
)
from patron.ledger.models import Asset, LedgerAccount
from patron.members.models import Member
from patron.programs.models import MemberTier

NAMES = ("tier", "points_balance", "pending_points", "growth", "stored_value_balance")


def _balance(ctx: Context, *assets: Asset) -> Any:
    return func.coalesce(
        select(func.sum(LedgerAccount.balance))
        .where(
            LedgerAccount.merchant_id == ctx.merchant_id,
            LedgerAccount.member_id == Member.id,
            LedgerAccount.code.in_([a.value for a in assets]),
        )
        .scalar_subquery(),
        0,
    )


@register_field(
    "tier",
    {"eq", "ne", "in", "not_in"},
    "tier code (e.g. gold); no tier yet is empty",
    kind=ValueKind.CHOICE,
)
def _tier(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    code = (
        select(MemberTier.tier_code)
        .where(MemberTier.merchant_id == ctx.merchant_id, MemberTier.member_id == Member.id)
        .scalar_subquery()
    )
    return compare(code, op, value)


def _numeric(label: str, *assets: Asset) -> None:
    kind = ValueKind.MONEY if label == "stored_value_balance" else ValueKind.COUNT

    @register_field(label, COMPARE - {"in", "not_in"}, _DESCRIPTIONS[label], kind=kind)
    def _field(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
        return compare(_balance(ctx, *assets), op, value)


_DESCRIPTIONS = {
    "points_balance": "spendable points",
    "pending_points": "points earned but not yet spendable (return window)",
    "growth": "growth value (what tiers are computed from)",
    "stored_value_balance": "stored value, principal + bonus, minor units",
}
_numeric("points_balance", Asset.POINTS)
_numeric("pending_points", Asset.POINTS_PENDING)
_numeric("growth", Asset.GROWTH)
_numeric("stored_value_balance", Asset.STORED_PRINCIPAL, Asset.STORED_BONUS)
