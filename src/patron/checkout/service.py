"""Checkout: quote (read-only) and commit (one transaction, idempotent) — ADR 0354.

Checkout is the purchase service above orders, programs and coupons (ADR 0901): it records the
order unsettled through the orders service and settles it through the programs itself, with the
payments its quote chose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from patron.checkout.quote import Quote, build_quote
from patron.checkout.schemas import CommitOut, CommitRequest, QuoteOut, QuoteRequest
from patron.core.clock import utcnow
from patron.core.config import get_settings
from patron.core.db import all_or_nothing
from patron.core.errors import Conflict, InvalidInput, PatronError
from patron.core.events import emit, events_batched, register_event_types
from patron.core.ids import fingerprint
from patron.coupons.benefits import FittingCoupon, fitting_coupons
from patron.ledger.idempotency import stored_result
from patron.ledger.service import idempotent
from patron.orders.schemas import EXTERNAL_ID_MAX_LENGTH, OrderCreate, OrderLineIn
from patron.orders.service import record_order
from patron.programs.benefits import PROVIDERS
from patron.programs.purchase import settle_order

register_event_types("checkout.committed")


def quote(
    session: Session, merchant_id: int, req: QuoteRequest, secret: str | None = None
) -> QuoteOut:
    """Every benefit that applies to the cart, what is due, and what it earns. Writes nothing."""
    secret = secret or get_settings().secret_key
    return build_quote(session, merchant_id, req, utcnow(session), secret).out


@dataclass(frozen=True)
class TillQuote:
    """What a till shows for a cart: the quote with the payments chosen, the most that points
    and stored value could pay (each computed by a quote asking for ``max``), and the member's
    unused coupons that would also fit the cart."""

    out: QuoteOut
    points_offer: int = 0
    points_offer_minor: int = 0
    stored_value_offer_minor: int = 0
    coupons: list[FittingCoupon] = field(default_factory=list)


def till_quote(
    session: Session, merchant_id: int, req: QuoteRequest, secret: str | None = None
) -> TillQuote:
    """The quote of ``req`` and what is on offer beside it (see :class:`TillQuote`). Raises
    what the quote raises; an offer that cannot be made (points not accepted here) is 0.
    Writes nothing."""
    secret = secret or get_settings().secret_key
    at = utcnow(session)
    q = build_quote(session, merchant_id, req, at, secret)
    member = q.out.member
    if q.member is None or member is None:
        return TillQuote(q.out)
    points: QuoteOut | None = q.out
    stored: QuoteOut | None = q.out
    if member.points_spendable and req.points != "max":
        change: dict[str, object] = {"points": "max", "stored_value": None}
        points = _offer(session, merchant_id, req.model_copy(update=change), at, secret)
    if member.stored_value_minor and req.stored_value != "max":
        change = {"stored_value": "max"}
        stored = _offer(session, merchant_id, req.model_copy(update=change), at, secret)
    return TillQuote(
        q.out,
        points_offer=points.points_redeemed if points else 0,
        points_offer_minor=points.points_value_minor if points else 0,
        stored_value_offer_minor=(
            stored.stored_principal_minor + stored.stored_bonus_minor if stored else 0
        ),
        coupons=fitting_coupons(session, merchant_id, q.member.id, q.cart, req.coupon_codes, at),
    )


def _offer(
    session: Session, merchant_id: int, req: QuoteRequest, at: datetime, secret: str
) -> QuoteOut | None:
    try:
        return build_quote(session, merchant_id, req, at, secret).out
    except PatronError:
        return None


def committed(session: Session, merchant_id: int, idempotency_key: str) -> CommitOut | None:
    """The sale first committed with ``idempotency_key`` (its quote as the till showed it), to
    show its receipt again; None if this merchant has no such sale."""
    found = stored_result(session, merchant_id, f"checkout:{idempotency_key}")
    return CommitOut.model_validate({**found, "replayed": True}) if found else None


def _order_of(q: Quote, external_id: str, placed_at: datetime) -> OrderCreate:
    lines = [
        OrderLineIn(
            sku=ln.sku,
            name=ln.name,
            category=ln.category,
            quantity=ln.quantity,
            unit_price_minor=ln.unit_price_minor,
            discount_minor=ln.discount_minor + q.line_coupon[ln.line_no],
        )
        for ln in q.cart.lines
    ]
    lines += [
        OrderLineIn(
            sku=b.gift_sku,
            name=f"Gift: {b.gift_name or b.label}",
            quantity=max(b.gift_quantity, 1),
            unit_price_minor=0,
        )
        for b in q.benefits
        if b.kind == "gift"
    ]
    return OrderCreate(
        external_id=external_id,
        member_id=q.member.id if q.member else None,
        store_id=q.store.id if q.store else None,
        placed_at=placed_at,
        discount_minor=q.order_discount_minor,
        lines=lines,
        source="checkout",
    )


def _order_id_of_key(idempotency_key: str) -> str:
    """The order id of a sale the till did not name: ``checkout-<key>``, or ``checkout-<hash>``
    when the key (up to 200 characters, ADR 0034) would make it longer than an order id."""
    named = f"checkout-{idempotency_key}"
    return named if len(named) <= EXTERNAL_ID_MAX_LENGTH else f"checkout-{fingerprint(named)}"


def commit(
    session: Session,
    merchant_id: int,
    req: CommitRequest,
    idempotency_key: str,
    actor: str,
    secret: str | None = None,
) -> CommitOut:
    """Recompute the quote and, in the caller's transaction, record the order, consume
    coupons, spend points and stored value, earn points and growth and update the tier.

    The same key with the same body returns the first result (``replayed``); with another
    body it is a 409 ``idempotency_key_reused``. If a balance was spent meanwhile by another
    till, ``insufficient_balance`` (422) and nothing is recorded."""
    if not idempotency_key:
        raise InvalidInput("an Idempotency-Key is required", code="idempotency_key_required")
    secret = secret or get_settings().secret_key
    body = {"op": "checkout", **req.model_dump(mode="json")}
    # The purchase's events (order, points, checkout) go out in one INSERT at the end (ADR 0372).
    # All or nothing (ADR 0900): any refusal rolls back the whole transaction, so the steps
    # (idempotency key, ledger moves) need no savepoints of their own.
    with (
        all_or_nothing(session),
        events_batched(session),
        idempotent(session, merchant_id, f"checkout:{idempotency_key}", body) as slot,
    ):
        if slot.replay is not None:
            return CommitOut.model_validate({**slot.replay, "replayed": True})
        at = utcnow(session)
        q = build_quote(session, merchant_id, req, at, secret)
        external_id = req.order_external_id or _order_id_of_key(idempotency_key)
        recorded = record_order(session, merchant_id, _order_of(q, external_id, at), settle=False)
        order = recorded.order
        if not recorded.created:
            raise Conflict(
                f"order {external_id!r} was already recorded", code="order_already_recorded"
            )
        member_id = q.member.id if q.member else None
        for provider in PROVIDERS:
            mine = [b for b in q.benefits if b.provider == provider.name]
            if mine:
                provider.consume(session, merchant_id, member_id, mine, order.id, at)
        if q.member is not None:
            settle_order(session, order, recorded.lines, q.payments, actor, q.programs, q.earning)
        result = CommitOut(
            order_id=order.id, order_external_id=external_id, replayed=False, quote=q.out
        )
        emit(
            session,
            merchant_id,
            "checkout.committed",
            {
                "order_id": order.id,
                "member_id": member_id,
                "total_minor": q.out.total_minor,
                "cash_minor": q.out.cash_due_minor,
                "points_redeemed": q.out.points_redeemed,
                "stored_value_minor": q.out.stored_principal_minor + q.out.stored_bonus_minor,
                "points_earned": q.out.points_to_earn,
                "growth_earned": q.out.growth_to_earn,
            },
            subject_id=order.id,
        )
        slot.save(result.model_dump(mode="json"))
    return result
