"""Stored value: top-ups with bonus levels, spending principal and bonus in the set order,
refunds of top-ups, statements and the merchant's liability (ARCHITECTURE §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.ledger import queries
from patron.ledger.service import Asset, EntryInfo, Leg, idempotent, post_entry
from patron.ledger.words import Words
from patron.programs.calendar import merchant_currency
from patron.programs.config import StoredValueConfig
from patron.programs.models import TopUp
from patron.programs.rules import stored_value_rule

register_event_types("stored_value.topped_up", "stored_value.top_up_refunded")

CASH_RECEIVED = "cash_received"
BONUS_ISSUED = "bonus_issued"
STORED_REDEEMED = "stored_redeemed"
BONUS_REDEEMED = "bonus_redeemed"
USED_BONUS_RECOVERED = "used_bonus_recovered"
MAX_TOP_UP = 10**10
BonusForfeit = Literal["all_unused", "proportional"]


@dataclass(frozen=True)
class StoredBalance:
    principal: int
    bonus: int

    @property
    def total(self) -> int:
        return self.principal + self.bonus


def balance(session: Session, merchant_id: int, member_id: int) -> StoredBalance:
    b = queries.member_balances(session, merchant_id, member_id).balances
    return StoredBalance(b[Asset.STORED_PRINCIPAL.value], b[Asset.STORED_BONUS.value])


def split_spend(cfg: StoredValueConfig, held: StoredBalance, amount: int) -> tuple[int, int]:
    """(principal, bonus) that pay ``amount`` in the merchant's spending order."""
    if amount > held.total:
        raise BusinessRuleViolation(
            "not enough stored value",
            code="insufficient_balance",
            details={"asset": "stored_value", "available": held.total},
        )
    if cfg.spend_order == "bonus_first":
        bonus = min(amount, held.bonus)
        return amount - bonus, bonus
    principal = min(amount, held.principal)
    return principal, amount - principal


def spend_legs(member_id: int, principal: int, bonus: int) -> list[Leg]:
    legs: list[Leg] = []
    if principal:
        legs += [
            Leg.member(member_id, Asset.STORED_PRINCIPAL, -principal),
            Leg.merchant(STORED_REDEEMED, Asset.STORED_PRINCIPAL, principal),
        ]
    if bonus:
        legs += [
            Leg.member(member_id, Asset.STORED_BONUS, -bonus),
            Leg.merchant(BONUS_REDEEMED, Asset.STORED_BONUS, bonus),
        ]
    return legs


def top_up_bonus(session: Session, merchant_id: int, amount_minor: int) -> int:
    """The bonus a top-up of ``amount_minor`` would get now: the rule :func:`top_up` applies,
    for a till to show before the member pays."""
    rule = stored_value_rule(session, merchant_id, utcnow(session))
    return rule.config.bonus_for(amount_minor)


def top_up(
    session: Session,
    merchant_id: int,
    member_id: int,
    amount_minor: int,
    idempotency_key: str,
    actor: str,
) -> tuple[TopUp, bool]:
    """Add ``amount_minor`` of principal and the bonus of the highest level reached, in one
    entry. Returns ``(top_up, created)``; a replay with the same key returns the first."""
    if not 0 < amount_minor <= MAX_TOP_UP:
        raise InvalidInput("a top-up is a positive amount", code="invalid_amount")
    queries.check_member(session, merchant_id, member_id)
    body = {"op": "top_up", "member_id": member_id, "amount_minor": amount_minor}
    with idempotent(session, merchant_id, f"top_up:{idempotency_key}", body) as slot:
        if slot.replay is not None:
            found = session.get(TopUp, int(slot.replay["top_up_id"]))
            assert found is not None
            return found, False
        rule = stored_value_rule(session, merchant_id, utcnow(session))
        bonus = top_up_bonus(session, merchant_id, amount_minor)
        legs = [
            Leg.member(member_id, Asset.STORED_PRINCIPAL, amount_minor),
            Leg.merchant(CASH_RECEIVED, Asset.STORED_PRINCIPAL, -amount_minor),
        ]
        if bonus:
            legs += [
                Leg.member(member_id, Asset.STORED_BONUS, bonus),
                Leg.merchant(BONUS_ISSUED, Asset.STORED_BONUS, -bonus),
            ]
        currency = merchant_currency(session, merchant_id)
        words = (
            Words(
                "top_up_bonus",
                {"amount_minor": amount_minor, "bonus_minor": bonus, "currency": currency},
            )
            if bonus
            else Words("top_up", {"amount_minor": amount_minor, "currency": currency})
        )
        info = EntryInfo.worded(
            "top_up",
            words,
            actor,
            object_type="top_up",
            object_id=idempotency_key,
            rule_version=rule.tag,
        )
        posted = post_entry(session, merchant_id, legs, info)
        row = TopUp(
            merchant_id=merchant_id,
            member_id=member_id,
            idempotency_key=idempotency_key,
            principal_minor=amount_minor,
            bonus_minor=bonus,
            entry_id=posted.id,
            rule_version=rule.version,
            status="completed",
            refunded_cash_minor=0,
            created_at=utcnow(session),
        )
        session.add(row)
        session.flush()
        slot.save({"top_up_id": row.id})
    emit(
        session,
        merchant_id,
        "stored_value.topped_up",
        {
            "member_id": member_id,
            "top_up_id": row.id,
            "principal_minor": amount_minor,
            "bonus_minor": bonus,
            "entry_id": posted.id,
        },
        subject_id=member_id,
    )
    return row, True


def refund_top_up(
    session: Session,
    merchant_id: int,
    top_up_id: int,
    actor: str,
    bonus_forfeit: BonusForfeit = "all_unused",
) -> TopUp:
    """Undo a top-up: principal back (what is left of it), bonus removed, and bonus already
    spent handled by the policy: deducted from the cash refunded, or absorbed by the merchant.
    A top-up is refunded at most once.

    ``bonus_forfeit`` says how much bonus goes with the principal refunded, R = min(P, principal
    held) of a top-up of principal P and bonus B: ``all_unused`` all of B (the till's refund of
    a whole top-up); ``proportional`` only the share of B that R is of P, S = floor(B·R/P),
    rounded down in the member's favour (a refund of unused prepaid principal on the member's
    request, ADR 1312). Of that bonus, what the member still holds is removed; the rest (spent
    already) is deducted from the cash under ``deduct_from_refund`` (at most R). With R = P the
    two are the same."""
    row = session.scalar(
        select(TopUp)
        .where(TopUp.id == top_up_id, TopUp.merchant_id == merchant_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("no such top-up", code="top_up_not_found")
    if row.status == "refunded":
        raise BusinessRuleViolation("this top-up was already refunded", code="already_refunded")
    rule = stored_value_rule(session, merchant_id, utcnow(session))
    held = balance(session, merchant_id, row.member_id)
    principal = min(row.principal_minor, held.principal)
    share = (
        row.bonus_minor * principal // row.principal_minor
        if bonus_forfeit == "proportional"
        else row.bonus_minor
    )
    unused_bonus = min(share, held.bonus)
    used_bonus = share - unused_bonus
    deduct = (
        min(used_bonus, principal)
        if rule.config.used_bonus_on_refund == ("deduct_from_refund")
        else 0
    )
    cash = principal - deduct
    legs: list[Leg] = []
    if principal:
        legs += [Leg.member(row.member_id, Asset.STORED_PRINCIPAL, -principal)]
        if cash:
            legs += [Leg.merchant(CASH_RECEIVED, Asset.STORED_PRINCIPAL, cash)]
        if deduct:
            legs += [Leg.merchant(USED_BONUS_RECOVERED, Asset.STORED_PRINCIPAL, deduct)]
    if unused_bonus:
        legs += [
            Leg.member(row.member_id, Asset.STORED_BONUS, -unused_bonus),
            Leg.merchant(BONUS_ISSUED, Asset.STORED_BONUS, unused_bonus),
        ]
    if not legs:
        raise BusinessRuleViolation(
            "nothing left of this top-up to refund", code="nothing_to_refund"
        )
    words = Words(
        "top_up_refund",
        {
            "amount_minor": row.principal_minor,
            "cash_minor": cash,
            "currency": merchant_currency(session, merchant_id),
        },
    )
    info = EntryInfo.worded(
        "top_up_refund",
        words,
        actor,
        note=f"used bonus {used_bonus}, deducted {deduct}",
        object_type="top_up",
        object_id=row.idempotency_key,
        rule_version=rule.tag,
        reverses_entry_id=row.entry_id,
    )
    posted = post_entry(session, merchant_id, legs, info)
    row.status = "refunded"
    row.refund_entry_id = posted.id
    row.refunded_cash_minor = cash
    row.refunded_at = utcnow(session)
    session.flush()
    emit(
        session,
        merchant_id,
        "stored_value.top_up_refunded",
        {
            "member_id": row.member_id,
            "top_up_id": row.id,
            "cash_minor": cash,
            "bonus_removed_minor": unused_bonus,
            "used_bonus_deducted_minor": deduct,
        },
        subject_id=row.member_id,
    )
    return row


STORED_ASSETS = (Asset.STORED_PRINCIPAL.value, Asset.STORED_BONUS.value)


def statement(
    session: Session, merchant_id: int, member_id: int, limit: int = 50, before: int | None = None
) -> tuple[list[queries.StatementLine], int | None]:
    """The member's stored value history in readable words (newest first)."""
    lines, cursor = queries.statement(session, merchant_id, member_id, limit=limit, before=before)
    kept = [ln for ln in lines if any(a in STORED_ASSETS for a in ln.amounts)]
    return kept, cursor


def liability(session: Session, merchant_id: int) -> dict[str, int]:
    owed = queries.liability(session, merchant_id)
    p, b = owed.by_asset[STORED_ASSETS[0]], owed.by_asset[STORED_ASSETS[1]]
    return {"principal_minor": p, "bonus_minor": b, "total_minor": p + b}
