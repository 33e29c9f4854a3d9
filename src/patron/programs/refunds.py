"""Refunds by order lines through the programs (ADR 0353).

What the refunded lines earned is taken back and what the order spent is given back, in
proportion, cumulatively: after each refund the totals reversed so far are recomputed from the
quantities refunded so far, and only the difference is posted, so partial refunds never give
back or take back anything twice and a full refund reverses everything exactly. Each refund is
one ledger entry (ADR 0373); points given back return to the lots the purchase spent them from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from patron.core.events import emit
from patron.ledger.moves import GiveBack, TakeBack, post_moves
from patron.ledger.service import Asset, EntryInfo, Leg
from patron.ledger.words import Words
from patron.orders.settlement import RefundOutcome
from patron.programs import tiers
from patron.programs.context import load_programs
from patron.programs.models import OrderPayment
from patron.programs.purchase import GROWTH_ISSUED, PURCHASE_REFUNDED, payment_of
from patron.programs.stored_value import BONUS_REDEEMED, STORED_REDEEMED

ACTOR = "refunds"


def cumulative_share(amount: int, refunded: int, total: int) -> int:
    """The part of ``amount`` that ``refunded`` of ``total`` gives back so far (rounded down)."""
    return amount * refunded // total if total else 0


def _earned_back(row: OrderPayment, lines: Sequence[Any]) -> tuple[int, int]:
    """Points and growth the refunded quantities (so far) earned."""
    points = growth = 0
    for ln in lines:
        p, g = row.line_earnings.get(str(ln.line_no), [0, 0])
        points += p * ln.refunded_quantity // ln.quantity
        growth += g * ln.refunded_quantity // ln.quantity
    return points, growth


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


def describe_refund(
    external_id: str,
    currency: str,
    returned: int,
    expired: int,
    taken: int,
    stored: int,
    growth: int,
) -> Words:
    """The member's words for a whole refund: one statement line, its parts named."""
    parts = []
    if returned and expired:
        parts.append(Words("points_given_back_expired", {"points": returned, "expired": expired}))
    elif returned:
        parts.append(Words("points_given_back", {"points": returned}))
    if taken:
        parts.append(Words("points_taken_back", {"points": taken}))
    if stored:
        parts.append(Words("stored_back", {"amount_minor": stored, "currency": currency}))
    if growth:
        parts.append(Words("growth_taken_back", {"growth": growth}))
    return Words("refund", {"order": external_id}, tuple(parts))


def on_refund(
    session: Session, order: Any, refund: Any, order_lines: Sequence[Any]
) -> RefundOutcome:
    """Reverse in proportion what the refunded lines earned and give back what the order spent.

    ``order_lines`` are all the order's lines, already showing the quantities refunded so far
    (this refund included): the totals to reverse are recomputed from them, and only what was
    not reversed before is posted. Returns what this refund did (and the cash to hand back)."""
    row = payment_of(session, order.id)
    if row is None:
        return RefundOutcome(cash_minor=refund.amount_minor)
    programs = load_programs(session, order.merchant_id, refund.refunded_at)
    points_target, growth_target = _earned_back(row, order_lines)
    after, total = order.refunded_minor, order.total_minor
    before = after - refund.amount_minor
    returned = max(cumulative_share(row.points_redeemed, after, total) - row.points_returned, 0)
    principal = cumulative_share(row.stored_principal_minor, after, total)
    principal -= row.principal_returned_minor
    bonus = cumulative_share(row.stored_bonus_minor, after, total) - row.bonus_returned_minor
    value = cumulative_share(row.points_value_minor, after, total)
    value -= cumulative_share(row.points_value_minor, before, total)
    want = points_target - row.points_taken_back - row.points_forgiven
    growth = growth_target - row.growth_taken_back
    policy = programs.refund_policy
    give = (
        GiveBack(row.spend_entry_id, returned, row.points_returned)
        if returned and row.spend_entry_id is not None
        else None
    )
    take = (
        TakeBack(row.earn_entry_id, want, allow_debt=policy.config.spent_points == "debt")
        if want > 0 and row.earn_entry_id is not None
        else None
    )
    legs = _value_legs(row, principal, bonus, growth)
    moved = None
    if legs or give or take:
        # One entry for the whole refund (ADR 0373), linked to the purchase it reverses.
        reverses = row.value_entry_id or row.earn_entry_id or row.spend_entry_id
        moved = post_moves(
            session,
            order.merchant_id,
            row.member_id,
            _info(order, refund, PURCHASE_REFUNDED, "-", reverses, policy.tag),
            legs=legs,
            give_back=give,
            take_back=take,
            describe=lambda given, expired, taken: describe_refund(
                order.external_id, order.currency, given, expired, taken, principal + bonus, growth
            ),
        )
    taken = moved.taken_back if moved else 0
    outcome = RefundOutcome(
        points_returned=returned,
        points_returned_expired=moved.given_back_expired if moved else 0,
        points_taken_back=taken,
        points_forgiven=want - taken if want > 0 else 0,
        points_value_minor=value,
        stored_principal_minor=principal,
        stored_bonus_minor=bonus,
        growth_taken_back=growth,
        cash_minor=refund.amount_minor - principal - bonus - value,
    )
    _record(session, order, refund, row, outcome)
    return outcome


def _record(
    session: Session, order: Any, refund: Any, row: OrderPayment, outcome: RefundOutcome
) -> None:
    """Count what was reversed on the payment row, tell the others, re-evaluate the tier."""
    row.points_returned += outcome.points_returned
    row.points_taken_back += outcome.points_taken_back
    row.points_forgiven += outcome.points_forgiven
    row.principal_returned_minor += outcome.stored_principal_minor
    row.bonus_returned_minor += outcome.stored_bonus_minor
    row.growth_taken_back += outcome.growth_taken_back
    session.flush()
    emit(
        session,
        order.merchant_id,
        "programs.refunded",
        {
            "order_id": order.id,
            "refund_id": refund.id,
            "member_id": row.member_id,
            "points_returned": outcome.points_returned,
            "points_taken_back": outcome.points_taken_back,
            "stored_value_returned_minor": outcome.stored_value_minor,
            "growth_taken_back": outcome.growth_taken_back,
            "cash_minor": outcome.cash_minor,
        },
        subject_id=row.member_id,
    )
    if outcome.growth_taken_back:
        tiers.reevaluate(session, order.merchant_id, row.member_id, f"refund {refund.external_id}")
