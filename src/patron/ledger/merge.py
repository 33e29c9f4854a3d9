"""Merging two members: the merged member's balances and points lots move to the kept member.

One ``member_merge`` entry per asset moves each non-zero balance (member → member, so the
merchant's side is untouched). The merged member's lots (spent ones too, for their history)
are re-pointed to the kept member, so expiry, refunds and allocations keep working on the
kept member and ``verify()`` stays clean. When one of the two owed points (a permitted negative
balance), the other's points pay that debt first, exactly as new points would (ADR 0371).
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.merge_hooks import STAGE_LEDGER, register_merge_hook
from patron.ledger.journal import EntryInfo, Leg, PostedEntry, post_legs
from patron.ledger.models import ACCOUNTS, LOTS, AllocationKind, Asset
from patron.ledger.points import SYSTEM_ACTOR, expire_member_due, take_from_lots
from patron.ledger.words import Words

MERGE_REASON = "member_merge"

_MOVE_LOTS = text(
    "UPDATE points_lots SET member_id = :keep WHERE merchant_id = :m AND member_id = :gone"
)


def _balances(session: Session, merchant_id: int, member_id: int) -> dict[Asset, int]:
    a = ACCOUNTS.c
    rows = session.connection().execute(
        select(a.asset, a.balance)
        .where(a.merchant_id == merchant_id, a.member_id == member_id, a.balance != 0)
        .order_by(a.id)
    )
    return {Asset(asset): int(balance) for asset, balance in rows}


def _transfer(
    session: Session, merchant_id: int, keep_id: int, gone_id: int, asset: Asset, amount: int
) -> PostedEntry:
    info = EntryInfo.worded(
        MERGE_REASON,
        Words("merged", {"asset": asset.value, "from_id": gone_id, "to_id": keep_id}),
        SYSTEM_ACTOR,
        object_type="member",
        object_id=str(gone_id),
    )
    # A debt (negative amount) moves as a debt: the kept member's leg may go below zero.
    legs = [
        Leg.member(gone_id, asset, -amount, allow_debt=amount < 0),
        Leg.member(keep_id, asset, amount, allow_debt=amount < 0),
    ]
    return post_legs(session, merchant_id, legs, info)


def _available_in_lots(session: Session, merchant_id: int, member_id: int) -> int:
    lot = LOTS.c
    total = session.connection().execute(
        select(func.coalesce(func.sum(lot.remaining), 0)).where(
            lot.merchant_id == merchant_id,
            lot.member_id == member_id,
            lot.released_at.is_not(None),
        )
    )
    return int(total.scalar_one())


def merge_ledger(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Move every balance and points lot of member ``gone_id`` to member ``keep_id``."""
    now = utcnow(session)
    # Lots past their date expire first, on their own member, as they would have anyway.
    expire_member_due(session, merchant_id, gone_id, now)
    expire_member_due(session, merchant_id, keep_id, now)
    points_entry: PostedEntry | None = None
    for asset, amount in _balances(session, merchant_id, gone_id).items():
        posted = _transfer(session, merchant_id, keep_id, gone_id, asset, amount)
        if asset is Asset.POINTS:
            points_entry = posted
    # The points accounts are locked by the transfer above; lots are changed after them.
    session.connection().execute(_MOVE_LOTS, {"m": merchant_id, "keep": keep_id, "gone": gone_id})
    if points_entry is None:
        return
    balance = points_entry.balance_of(keep_id, Asset.POINTS.value) or 0
    excess = _available_in_lots(session, merchant_id, keep_id) - max(balance, 0)
    if excess > 0:  # one side's points pay the other side's debt
        take_from_lots(
            session, merchant_id, keep_id, points_entry.id, excess, AllocationKind.DEBT, now
        )


register_merge_hook(merge_ledger, STAGE_LEDGER)

__all__ = ["MERGE_REASON", "merge_ledger"]
