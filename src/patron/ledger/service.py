"""The ledger's public operations. Programs (points, tiers, stored value, coupons, checkout) post
through these; the ledger knows nothing of programs.

Every write takes an :class:`EntryInfo` (reason code, words for the member, note, actor, business
object, rule version) and optionally an idempotency key: the same key with the same request
returns the entry first posted (``PostedEntry.replayed``); with another request it is a 409
``idempotency_key_reused``. Each call runs inside a savepoint, so a refused write (for example
``insufficient_balance``) leaves the caller's session exactly as it was. Nothing here commits:
the edge (request, worker task, CLI command) owns the transaction.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, NotFound
from patron.core.events import emit
from patron.ledger import points as _points
from patron.ledger import reversal as _reversal
from patron.ledger import schedule as _schedule
from patron.ledger.idempotency import IdempotencySlot, idempotent, once
from patron.ledger.journal import EntryInfo, Leg, PostedEntry, PostedLeg, post_legs
from patron.ledger.models import Asset, JournalEntry, PointsLot

__all__ = [
    "Asset",
    "EntryInfo",
    "IdempotencySlot",
    "Leg",
    "PostedEntry",
    "PostedLeg",
    "adjust_balance",
    "announce_expiring_points",
    "correct_entry",
    "earn_points",
    "expire_points",
    "idempotent",
    "post_entry",
    "release_pending_points",
    "reverse_entry",
    "spend_points",
    "take_back_points",
]

LOT_ASSETS = frozenset({Asset.POINTS, Asset.POINTS_PENDING})
ADJUSTED_SUFFIX = "_adjusted"


def _body(op: str, info: EntryInfo, **fields: Any) -> dict[str, Any]:
    """The request a key stands for, when the caller gives no body of its own."""
    return {"op": op, "info": asdict(info), **fields}


def post_entry(
    session: Session,
    merchant_id: int,
    legs: list[Leg],
    info: EntryInfo,
    *,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Post a balanced entry of any assets except member points (those live in lots: use
    :func:`earn_points` / :func:`spend_points`). Raises ``entry_unbalanced`` (422) if the legs
    do not sum to zero per asset, ``insufficient_balance`` (422) if a member balance would go
    below zero without ``Leg.allow_debt``."""
    for leg in legs:
        if leg.member_id is not None and leg.asset in LOT_ASSETS:
            raise InvalidInput(
                "member points change only through earn_points / spend_points",
                code="points_need_lots",
            )
    body = body if body is not None else _body("post", info, legs=[asdict(leg) for leg in legs])
    return once(
        session,
        merchant_id,
        idempotency_key,
        body,
        lambda: post_legs(session, merchant_id, legs, info, idempotency_key),
    )


def earn_points(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    info: EntryInfo,
    *,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Give a member ``points`` as a new lot: member·points +N / merchant·points_issued −N.

    With ``available_at`` in the future the points are pending (not spendable; asset
    ``points_pending``) until :func:`release_pending_points` runs after that time. ``expires_at``
    None means the lot never expires. Emits ``points.earned``."""
    body = (
        body
        if body is not None
        else _body(
            "earn",
            info,
            member_id=member_id,
            points=points,
            available_at=available_at,
            expires_at=expires_at,
        )
    )
    return once(
        session,
        merchant_id,
        idempotency_key,
        body,
        lambda: _points.earn(
            session,
            merchant_id,
            member_id,
            points,
            info,
            available_at=available_at,
            expires_at=expires_at,
            idempotency_key=idempotency_key,
        ),
    )


def spend_points(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    info: EntryInfo,
    *,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Spend ``points`` from the member's available lots, earliest expiry first (then oldest):
    member·points −N / merchant·points_redeemed +N. Lots past their date are expired first.
    Raises ``insufficient_balance`` (422) and changes nothing if the member has too few.
    Emits ``points.spent``."""
    body = body if body is not None else _body("spend", info, member_id=member_id, points=points)
    return once(
        session,
        merchant_id,
        idempotency_key,
        body,
        lambda: _points.spend(
            session, merchant_id, member_id, points, info, idempotency_key=idempotency_key
        ),
    )


def _earning_lot(session: Session, merchant_id: int, entry_id: int) -> PointsLot:
    lot = session.scalar(
        select(PointsLot).where(
            PointsLot.entry_id == entry_id, PointsLot.merchant_id == merchant_id
        )
    )
    if lot is None:
        raise NotFound("no points earning with this entry id", code="earning_not_found")
    return lot


def take_back_points(
    session: Session,
    merchant_id: int,
    earning_entry_id: int,
    points: int,
    info: EntryInfo,
    *,
    allow_debt: bool = False,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Take back part (or all) of an earning, e.g. for a refund: from that earning's lot first,
    then from the member's other available lots. If the member has already spent them, the
    rest becomes a negative balance only with ``allow_debt`` (the merchant's "debt" policy);
    otherwise ``insufficient_balance``. Never more than was earned (``reversal_exceeds_earning``).
    The entry is linked to the earning by ``reverses_entry_id``."""
    if type(points) is not int or points <= 0:
        raise InvalidInput("points must be a positive whole number", code="invalid_points")
    info = replace(info, reverses_entry_id=earning_entry_id)
    body = (
        body
        if body is not None
        else _body(
            "take_back", info, entry_id=earning_entry_id, points=points, allow_debt=allow_debt
        )
    )

    def work() -> PostedEntry:
        lot = _earning_lot(session, merchant_id, earning_entry_id)
        return _reversal.take_back(
            session,
            merchant_id,
            lot,
            points,
            info,
            allow_debt=allow_debt,
            idempotency_key=idempotency_key,
        )

    return once(session, merchant_id, idempotency_key, body, work)


def reverse_entry(
    session: Session,
    merchant_id: int,
    entry_id: int,
    info: EntryInfo,
    *,
    allow_debt: bool = False,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Undo an entry with a new one carrying the opposite legs (``reverses_entry_id`` links
    them). An earning is taken back from its lot; a spend gives its points back to the lots it
    used. An entry is reversed at most once (``already_reversed``, 409)."""
    body = (
        body
        if body is not None
        else _body("reverse", info, entry_id=entry_id, allow_debt=allow_debt)
    )
    return once(
        session,
        merchant_id,
        idempotency_key,
        body,
        lambda: _reversal.reverse(
            session,
            merchant_id,
            entry_id,
            info,
            allow_debt=allow_debt,
            idempotency_key=idempotency_key,
        ),
    )


def correct_entry(
    session: Session,
    merchant_id: int,
    entry_id: int,
    legs: list[Leg],
    info: EntryInfo,
    *,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """Fix a mistake with a new entry linked to the wrong one by ``corrects_entry_id`` (entries
    are never edited). For points, call :func:`earn_points` / :func:`spend_points` with
    ``EntryInfo(corrects_entry_id=...)`` instead."""
    found = session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.id == entry_id, JournalEntry.merchant_id == merchant_id
        )
    )
    if found is None:
        raise NotFound("no such ledger entry", code="entry_not_found")
    info = replace(info, corrects_entry_id=entry_id)
    return post_entry(session, merchant_id, legs, info, idempotency_key=idempotency_key, body=body)


def adjust_balance(
    session: Session,
    merchant_id: int,
    member_id: int,
    asset: Asset,
    amount: int,
    info: EntryInfo,
    *,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    body: Any = None,
) -> PostedEntry:
    """A staff member's manual change of a balance, with a reason (audited by ``info.actor``).

    Points: +N opens a lot (optionally expiring), −N spends from lots. Other assets post
    against the merchant account ``<asset>_adjusted``. Emits ``balance.adjusted``."""
    if type(amount) is not int or amount == 0:
        raise InvalidInput("an adjustment moves a non-zero whole amount", code="invalid_amount")
    if asset is Asset.POINTS_PENDING:
        raise InvalidInput("pending points cannot be adjusted by hand", code="invalid_asset")
    fields = {"member_id": member_id, "asset": asset.value, "amount": amount}
    body = body if body is not None else _body("adjust", info, **fields, expires_at=expires_at)
    if asset is Asset.POINTS and amount > 0:
        posted = earn_points(
            session,
            merchant_id,
            member_id,
            amount,
            info,
            expires_at=expires_at,
            idempotency_key=idempotency_key,
            body=body,
        )
    elif asset is Asset.POINTS:
        posted = spend_points(
            session,
            merchant_id,
            member_id,
            -amount,
            info,
            idempotency_key=idempotency_key,
            body=body,
        )
    else:
        legs = [
            Leg.member(member_id, asset, amount),
            Leg.merchant(asset.value + ADJUSTED_SUFFIX, asset, -amount),
        ]
        posted = post_entry(
            session, merchant_id, legs, info, idempotency_key=idempotency_key, body=body
        )
    if not posted.replayed:
        _emit_adjusted(session, merchant_id, member_id, asset, amount, info, posted)
    return posted


def _emit_adjusted(
    session: Session,
    merchant_id: int,
    member_id: int,
    asset: Asset,
    amount: int,
    info: EntryInfo,
    posted: PostedEntry,
) -> None:
    payload = {
        "member_id": member_id,
        "entry_id": posted.id,
        "asset": asset.value,
        "amount": amount,
        "balance": posted.balance_of(member_id, asset.value),
        "reason_code": info.reason_code,
        "actor": info.actor,
    }
    emit(session, merchant_id, "balance.adjusted", payload, subject_id=member_id)


def expire_points(
    session: Session, merchant_id: int | None = None, now: datetime | None = None, limit: int = 500
) -> int:
    """Expire up to ``limit`` lots past their date: one entry per lot (member·points −remaining /
    merchant·points_expired +remaining). ``merchant_id=None``: every merchant. Returns how many."""
    return _points.expire_due(session, merchant_id, now, limit)


def release_pending_points(
    session: Session, merchant_id: int | None = None, now: datetime | None = None, limit: int = 500
) -> int:
    """Make spendable the pending lots whose ``available_at`` has passed. Returns how many."""
    return _schedule.release_pending_points(session, merchant_id, now, limit)


def announce_expiring_points(
    session: Session,
    merchant_id: int | None = None,
    days: int = _schedule.DEFAULT_EXPIRING_SOON_DAYS,
    now: datetime | None = None,
) -> int:
    """Emit ``points.expiring_soon`` once per lot expiring within its merchant's lead time
    (the programs' ``expiring_notice_days``; ``days`` for merchants without one). Returns how
    many."""
    now = now or utcnow(session)
    own = _schedule.notice_days(session, now)
    return _schedule.announce_expiring_points(session, merchant_id, days, now, days_by_merchant=own)


# Registers this domain's member-merge hook (ADR 0370).
from patron.ledger import merge as _merge_hook  # noqa: E402, F401
