"""A member's purchase through the programs: spend what paid for it, earn points and growth,
update the tier; and a refund reverses it by the lines refunded (ADR 0353).

Orders know no programs: :mod:`patron.programs.settlement` registers :func:`on_order_recorded`
and :func:`on_refund` with them (ADR 0901); checkout records its orders unsettled and settles
them itself with :func:`settle_order` (with the payments its quote chose).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.ledger.moves import Earn, post_moves
from patron.ledger.service import Asset, EntryInfo, Leg
from patron.ledger.words import Words
from patron.programs import stored_value, tiers
from patron.programs.calendar import expiry_at
from patron.programs.config import Tier
from patron.programs.context import Programs, current_tier, earn_context, load_programs
from patron.programs.earning import Earning, EarnLine, earn_growth
from patron.programs.earning import earn_points as compute_points
from patron.programs.models import OrderPayment
from patron.tenancy.models import Store

GROWTH_ISSUED = "growth_issued"
# Reason codes of the one entry a purchase posts and of the one entry each refund posts.
PURCHASE = "purchase"
PURCHASE_REFUNDED = "purchase_refunded"


@dataclass(frozen=True)
class Payments:
    points_redeemed: int = 0
    points_value_minor: int = 0
    stored_principal_minor: int = 0
    stored_bonus_minor: int = 0

    @property
    def non_cash_minor(self) -> int:
        return self.points_value_minor + self.stored_principal_minor + self.stored_bonus_minor


def compute_earning(
    session: Session,
    programs: Programs,
    merchant_id: int,
    member_id: int,
    store_code: str | None,
    lines: Sequence[EarnLine],
    cash_share: Fraction,
    tier: Tier | Literal["unread"] | None = "unread",
) -> Earning:
    """Points and growth these lines earn (no writes): the one formula quote and commit use.
    ``tier``: the member's tier when the caller read it already."""
    if tier == "unread":
        tier = current_tier(session, programs, merchant_id, member_id)
    out = Earning(0, 0)
    if programs.points is not None:
        ctx = earn_context(session, programs, merchant_id, member_id, tier, store_code, cash_share)
        out = compute_points(programs.points.config, lines, ctx)
    if programs.tiers is not None:
        out.growth, out.line_growth = earn_growth(programs.tiers.config, lines)
    return out


def _earn_lines(lines: Sequence[Any]) -> list[EarnLine]:
    return [
        EarnLine(ln.line_no, ln.sku, ln.category, ln.quantity * ln.unit_price_minor, ln.paid_minor)
        for ln in lines
    ]


def _info(order: Any, reason: str, words: Words, actor: str, rule: str | None) -> EntryInfo:
    return EntryInfo.worded(
        reason, words, actor, object_type="order", object_id=str(order.id), rule_version=rule
    )


def _earn_of(session: Session, programs: Programs, earning: Earning) -> Earn | None:
    if earning.points <= 0 or programs.points is None:
        return None
    cfg = programs.points.config
    now = utcnow(session)
    available = now + timedelta(days=cfg.pending_days) if cfg.pending_days else None
    return Earn(earning.points, available, expiry_at(cfg.expiry, available or now, programs.zone))


def describe_purchase(
    external_id: str,
    currency: str,
    payments: Payments,
    growth: int,
    earn: Earn | None,
    pending: bool,
) -> Words:
    """The member's words for a whole purchase: one statement line, its parts named."""
    stored = payments.stored_principal_minor + payments.stored_bonus_minor
    money = {"currency": currency}
    parts = []
    if payments.points_redeemed:
        paid = {"points": payments.points_redeemed, "value_minor": payments.points_value_minor}
        parts.append(Words("points_paid", paid | money))
    if stored:
        parts.append(Words("stored_used", {"amount_minor": stored} | money))
    if growth:
        parts.append(Words("growth_earned", {"growth": growth}))
    if earn:
        code = "points_earned_pending" if pending else "points_earned"
        parts.append(Words(code, {"points": earn.points}))
    return Words("purchase", {"order": external_id}, tuple(parts))


def settle_order(
    session: Session,
    order: Any,
    lines: Sequence[Any],
    payments: Payments,
    actor: str,
    programs: Programs | None = None,
    earning: Earning | None = None,
) -> OrderPayment:
    """Post what a member's order spent and earned, record the payment split, update the tier.

    Points deduction and stored value are payments (they do not lower the order total); the
    ledger refuses (``insufficient_balance``) if a concurrent till took the balance first.
    ``earning``: what checkout's quote computed for this order in the same transaction (same
    rules, lines and payments), so it is not computed a second time."""
    merchant_id, member_id = order.merchant_id, order.member_id
    given_programs = programs is not None
    programs = programs or load_programs(session, merchant_id, order.placed_at)
    total = order.total_minor
    cash = total - payments.non_cash_minor
    cash_share = Fraction(cash, total) if total else Fraction(0)
    if earning is None:
        store_code = (
            session.scalar(select(Store.code).where(Store.id == order.store_id))
            if order.store_id
            else None
        )
        earning = compute_earning(
            session, programs, merchant_id, member_id, store_code, _earn_lines(lines), cash_share
        )
    legs = stored_value.spend_legs(
        member_id, payments.stored_principal_minor, payments.stored_bonus_minor
    )
    if earning.growth:
        legs += [
            Leg.member(member_id, Asset.GROWTH, earning.growth),
            Leg.merchant(GROWTH_ISSUED, Asset.GROWTH, -earning.growth),
        ]
    earn = _earn_of(session, programs, earning)
    entry_id = None
    if legs or earn or payments.points_redeemed:
        # One entry for the whole purchase (ADR 0373): what paid, what was earned.
        rules = (programs.points, programs.stored_value, programs.tiers)
        tags = [r.tag for r in rules if r and r.version]
        pending = earn is not None and earn.available_at is not None
        words = describe_purchase(
            order.external_id, order.currency, payments, earning.growth, earn, pending
        )
        moved = post_moves(
            session,
            merchant_id,
            member_id,
            _info(order, PURCHASE, words, actor, ",".join(tags) or None),
            legs=legs,
            spend=payments.points_redeemed,
            earn=earn,
        )
        entry_id = moved.entry.id if moved.entry else None
    row = OrderPayment(
        merchant_id=merchant_id,
        order_id=order.id,
        member_id=member_id,
        local_date=programs.local_date,
        total_minor=total,
        cash_minor=cash,
        points_redeemed=payments.points_redeemed,
        points_value_minor=payments.points_value_minor,
        stored_principal_minor=payments.stored_principal_minor,
        stored_bonus_minor=payments.stored_bonus_minor,
        points_earned=earning.points,
        growth_earned=earning.growth,
        line_earnings={
            str(ln.line_no): [
                earning.line_points.get(ln.line_no, 0),
                earning.line_growth.get(ln.line_no, 0),
            ]
            for ln in lines
        },
        # One entry now; three columns still say which parts it holds (and older orders, made
        # before ADR 0373, name three entries).
        earn_entry_id=entry_id if earn else None,
        spend_entry_id=entry_id if payments.points_redeemed else None,
        value_entry_id=entry_id if legs else None,
        rule_versions=programs.versions(),
        points_taken_back=0,
        points_forgiven=0,
        growth_taken_back=0,
        points_returned=0,
        principal_returned_minor=0,
        bonus_returned_minor=0,
        created_at=utcnow(session),
    )
    session.add(row)
    session.flush()
    if earning.growth:
        # Programs given by the caller are the ones in force now (checkout sells now).
        now_in_force = (programs.tiers, programs.zone) if given_programs else None
        tiers.reevaluate(
            session, merchant_id, member_id, f"order {order.external_id}", now_in_force
        )
    return row


def on_order_recorded(session: Session, order: Any, lines: Sequence[Any]) -> OrderPayment | None:
    """An order recorded through the orders API earns points and growth for its member
    (paid in cash: no redemptions)."""
    if order.member_id is None:
        return None
    return settle_order(session, order, lines, Payments(), actor="orders")


def payments_of(
    session: Session, merchant_id: int, order_ids: Sequence[int]
) -> dict[int, OrderPayment]:
    """How each of these orders was paid (points, stored value, cash) and what it earned; orders
    of no member have no row. Read-only."""
    if not order_ids:
        return {}
    rows = session.scalars(
        select(OrderPayment).where(
            OrderPayment.merchant_id == merchant_id, OrderPayment.order_id.in_(list(order_ids))
        )
    )
    return {row.order_id: row for row in rows}


def payment_of(session: Session, order_id: int) -> OrderPayment | None:
    return session.scalar(
        select(OrderPayment).where(OrderPayment.order_id == order_id).with_for_update()
    )


# Registers this domain's member-merge hook (ADR 0370).
from patron.programs import merge as _merge_hook  # noqa: E402, F401
