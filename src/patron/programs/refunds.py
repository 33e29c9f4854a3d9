"""Refunds by order lines through the programs (ADR 0353).

What the refunded lines earned is taken back and what the order spent is given back, in
proportion, cumulatively: after each refund the totals reversed so far are recomputed from the
quantities refunded so far, and only the difference is posted, so partial refunds never give
back or take back anything twice and a full refund reverses everything exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.events import emit
from patron.ledger import queries
from patron.ledger.models import PointsLot
from patron.ledger.service import Asset, EntryInfo, Leg, earn_points, post_entry, take_back_points
from patron.programs import tiers
from patron.programs.calendar import expiry_at
from patron.programs.context import Programs, load_programs
from patron.programs.models import OrderPayment
from patron.programs.purchase import GROWTH_ISSUED, payment_of
from patron.programs.stored_value import BONUS_REDEEMED, STORED_REDEEMED

ACTOR = "refunds"


def _earned_back(row: OrderPayment, lines: Sequence[Any]) -> tuple[int, int]:
    """Points and growth the refunded quantities (so far) earned."""
    points = growth = 0
    for ln in lines:
        p, g = row.line_earnings.get(str(ln.line_no), [0, 0])
        points += p * ln.refunded_quantity // ln.quantity
        growth += g * ln.refunded_quantity // ln.quantity
    return points, growth


def _affordable(session: Session, row: OrderPayment, points: int) -> int:
    """Of ``points`` to take back, what the member still holds (the "cap" policy): what is left
    of the earning's pending lot, then the spendable balance."""
    lot = session.scalar(select(PointsLot).where(PointsLot.entry_id == row.earn_entry_id))
    from_lot = min(points, lot.remaining) if lot is not None and lot.released_at is None else 0
    held = queries.member_balances(session, row.merchant_id, row.member_id).points_spendable
    return min(points, from_lot + held)


def _info(
    order: Any, refund: Any, reason: str, words: str, reverses: int | None, rule: str | None = None
) -> EntryInfo:
    return EntryInfo(
        reason,
        words,
        ACTOR,
        note=f"refund {refund.external_id}",
        object_type="refund",
        object_id=str(refund.id),
        rule_version=rule,
        reverses_entry_id=reverses,
    )


def _give_back_points(
    session: Session, programs: Programs, order: Any, refund: Any, row: OrderPayment, n: int
) -> None:
    """Redeemed points return as a new lot (spendable now, expiring by today's rule)."""
    cfg = programs.points.config if programs.points else None
    expires = expiry_at(cfg.expiry, programs.at, programs.zone) if cfg else None
    earn_points(
        session,
        order.merchant_id,
        order.member_id,
        n,
        _info(
            order,
            refund,
            "points_deduction_refunded",
            f"{n} points given back for refund of order {order.external_id}",
            row.spend_entry_id,
            programs.points.tag if programs.points else None,
        ),
        expires_at=expires,
    )
    row.points_returned += n


def _take_back_points(
    session: Session, programs: Programs, order: Any, refund: Any, row: OrderPayment, n: int
) -> None:
    assert row.earn_entry_id is not None
    policy = programs.refund_policy
    take = n if policy.config.spent_points == "debt" else _affordable(session, row, n)
    if take:
        take_back_points(
            session,
            order.merchant_id,
            row.earn_entry_id,
            take,
            _info(
                order,
                refund,
                "purchase_points_refunded",
                f"{take} points taken back for refund of order {order.external_id}",
                row.earn_entry_id,
                policy.tag,
            ),
            allow_debt=policy.config.spent_points == "debt",
        )
    row.points_taken_back += take
    row.points_forgiven += n - take


def _value_legs(row: OrderPayment, principal: int, bonus: int, growth: int) -> list[Leg]:
    legs: list[Leg] = []
    if principal:
        legs += [
            Leg.member(row.member_id, Asset.STORED_PRINCIPAL, principal),
            Leg.merchant(STORED_REDEEMED, Asset.STORED_PRINCIPAL, -principal),
        ]
    if bonus:
        legs += [
            Leg.member(row.member_id, Asset.STORED_BONUS, bonus),
            Leg.merchant(BONUS_REDEEMED, Asset.STORED_BONUS, -bonus),
        ]
    if growth:
        legs += [
            Leg.member(row.member_id, Asset.GROWTH, -growth, allow_debt=True),
            Leg.merchant(GROWTH_ISSUED, Asset.GROWTH, growth),
        ]
    return legs


def on_refund(session: Session, order: Any, refund: Any, order_lines: Sequence[Any]) -> None:
    """Reverse in proportion what the refunded lines earned and give back what the order spent.

    ``order_lines`` are all the order's lines, already showing the quantities refunded so far
    (this refund included): the totals to reverse are recomputed from them, and only what was
    not reversed before is posted."""
    row = payment_of(session, order.id)
    if row is None:
        return
    lines = order_lines
    programs = load_programs(session, order.merchant_id, refund.refunded_at)
    points_target, growth_target = _earned_back(row, lines)
    share = (order.refunded_minor, order.total_minor) if order.total_minor else (0, 1)
    returned = row.points_redeemed * share[0] // share[1] - row.points_returned
    principal = row.stored_principal_minor * share[0] // share[1] - row.principal_returned_minor
    bonus = row.stored_bonus_minor * share[0] // share[1] - row.bonus_returned_minor
    if returned > 0:
        _give_back_points(session, programs, order, refund, row, returned)
    take = points_target - row.points_taken_back - row.points_forgiven
    if take > 0:
        _take_back_points(session, programs, order, refund, row, take)
    growth = growth_target - row.growth_taken_back
    legs = _value_legs(row, principal, bonus, growth)
    if legs:
        post_entry(
            session,
            order.merchant_id,
            legs,
            _info(
                order,
                refund,
                "purchase_refunded",
                f"Refund of order {order.external_id}: {principal + bonus} stored value back",
                row.value_entry_id,
            ),
        )
    row.principal_returned_minor += principal
    row.bonus_returned_minor += bonus
    row.growth_taken_back += growth
    session.flush()
    emit(
        session,
        order.merchant_id,
        "programs.refunded",
        {
            "order_id": order.id,
            "refund_id": refund.id,
            "member_id": row.member_id,
            "points_returned": max(returned, 0),
            "points_taken_back": max(take, 0),
            "stored_value_returned_minor": principal + bonus,
            "growth_taken_back": growth,
        },
        subject_id=row.member_id,
    )
    if growth:
        tiers.reevaluate(session, order.merchant_id, row.member_id, f"refund {refund.external_id}")
