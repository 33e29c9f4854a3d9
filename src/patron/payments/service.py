"""Top-ups paid through a provider: settings, starting a payment, notifications, queries,
expiry and the refund of unused principal (docs/payments.md).

Crediting goes through :func:`patron.programs.stored_value.top_up` with the idempotency key
``payment:<out_trade_no>``, under a row lock on the order: however often a notification
arrives, and whether a query finds it paid too, the member is credited once (ADR 1310).
Calls to a provider are made outside any transaction (a slow provider never holds a lock);
the functions that make them take the session factory and open short transactions around.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, Forbidden, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.ledger import queries
from patron.payments.models import (
    EXPIRED,
    PAID,
    PENDING,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
    PaymentOrder,
    PaymentSetting,
)
from patron.payments.providers import get_provider, provider_names
from patron.payments.providers.base import (
    NotificationRejected,
    NotifyRequest,
    PayRequest,
    ProviderMisconfigured,
    ProviderRefused,
    ProviderSettings,
    ProviderUnavailable,
    RefundRequest,
    TradeStatus,
)
from patron.programs import stored_value
from patron.programs.calendar import merchant_currency

log = logging.getLogger("patron.payments")
register_event_types("payment.paid", "payment.refunded")

# How long a member has to pay before the order expires.
PAY_WINDOW = timedelta(minutes=15)
# No notification this long after the order was made: ask the provider, then again each
# QUERY_EVERY (a notification lost on the way, or a create that timed out).
QUERY_AFTER = timedelta(minutes=2)
QUERY_EVERY = timedelta(minutes=1)
MIN_TOP_UP_MINOR = 1
BATCH = 50


def _key(out_trade_no: str) -> str:
    """The top-up's idempotency key: one order, one top-up."""
    return f"payment:{out_trade_no}"


# ---------------------------------------------------------------- settings


def list_settings(session: Session, merchant_id: int) -> list[PaymentSetting]:
    return list(
        session.scalars(
            select(PaymentSetting)
            .where(PaymentSetting.merchant_id == merchant_id)
            .order_by(PaymentSetting.provider)
        )
    )


def put_settings(
    session: Session,
    merchant_id: int,
    provider: str,
    *,
    enabled: bool,
    base_url: str | None,
    credentials: dict[str, Any],
) -> PaymentSetting:
    """Create or replace a provider's settings. Secrets are stored, never returned or logged."""
    get_provider(provider)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise InvalidInput("base_url must be an http(s) URL", code="invalid_base_url")
    now = utcnow(session)
    row = session.scalar(
        select(PaymentSetting).where(
            PaymentSetting.merchant_id == merchant_id, PaymentSetting.provider == provider
        )
    )
    if row is None:
        row = PaymentSetting(merchant_id=merchant_id, provider=provider, created_at=now)
        session.add(row)
    row.enabled, row.base_url, row.credentials, row.updated_at = enabled, base_url, credentials, now
    session.flush()
    return row


def _settings(session: Session, merchant_id: int, provider: str) -> ProviderSettings | None:
    row = session.scalar(
        select(PaymentSetting).where(
            PaymentSetting.merchant_id == merchant_id, PaymentSetting.provider == provider
        )
    )
    if row is None:
        return None
    return ProviderSettings(row.base_url, dict(row.credentials))


def usable_providers(session: Session, merchant_id: int) -> list[str]:
    """The providers a member of this merchant may pay with (enabled, currency taken)."""
    currency = merchant_currency(session, merchant_id)
    known = set(provider_names())
    found = []
    for row in list_settings(session, merchant_id):
        if not row.enabled or row.provider not in known:
            continue
        accepted = get_provider(row.provider).currencies
        if accepted is None or currency in accepted:
            found.append(row.provider)
    return found


# ---------------------------------------------------------------- paying


def _pay_request(order: PaymentOrder, notify_url: str = "", description: str = "") -> PayRequest:
    return PayRequest(
        merchant_id=order.merchant_id,
        out_trade_no=order.out_trade_no,
        amount_minor=order.amount_minor,
        currency=order.currency,
        description=description,
        notify_url=notify_url,
        expires_at=order.expires_at,
        provider_txn_id=order.provider_txn_id,
    )


def notify_url(base_url: str, provider: str, merchant_id: int) -> str:
    return f"{base_url.rstrip('/')}/api/v1/payments/notify/{provider}/{merchant_id}"


def new_order(
    session: Session, merchant_id: int, member_id: int, provider: str, amount_minor: int
) -> PaymentOrder:
    """A pending order (not yet sent to the provider)."""
    if provider not in usable_providers(session, merchant_id):
        raise InvalidInput("this way to pay is not available", code="provider_not_available")
    if not MIN_TOP_UP_MINOR <= amount_minor <= stored_value.MAX_TOP_UP:
        raise InvalidInput("a top-up is a positive amount", code="invalid_amount")
    queries.check_member(session, merchant_id, member_id)
    now = utcnow(session)
    order = PaymentOrder(
        merchant_id=merchant_id,
        member_id=member_id,
        provider=provider,
        amount_minor=amount_minor,
        currency=merchant_currency(session, merchant_id),
        quoted_bonus_minor=stored_value.top_up_bonus(session, merchant_id, amount_minor),
        # 26 characters of [A-Z0-9]: within every provider's limits, unguessable, and read
        # aloud as a code.
        out_trade_no=f"PT{secrets.token_hex(12).upper()}",
        status=PENDING,
        pay_data={},
        refund_minor=0,
        bonus_forfeited_minor=0,
        created_at=now,
        expires_at=now + PAY_WINDOW,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    return order


def start_payment(
    sessions: sessionmaker[Session],
    merchant_id: int,
    member_id: int,
    provider: str,
    amount_minor: int,
    *,
    base_url: str,
    description: str,
) -> int:
    """Make the order, then ask the provider for the way to pay (outside the transaction).
    A provider that does not answer leaves the order pending with no way to pay yet: a query
    finds out later whether the provider made it (and whether it was paid)."""
    with transaction(sessions) as session:
        order = new_order(session, merchant_id, member_id, provider, amount_minor)
        order_id = order.id
        pay = _pay_request(order, notify_url(base_url, provider, merchant_id), description)
        settings = _settings(session, merchant_id, provider)
    assert settings is not None
    try:
        created = get_provider(provider).create(pay, settings)
    except (ProviderUnavailable, ProviderRefused, ProviderMisconfigured) as exc:
        log.warning("payment not created", extra={"provider": provider, "error": str(exc)})
        with transaction(sessions) as session:
            order = _order(session, merchant_id, order_id, lock=True)
            order.error = str(exc)[:200]
            if isinstance(exc, (ProviderRefused, ProviderMisconfigured)):
                order.status = EXPIRED  # the provider said no: nothing to pay
            order.updated_at = utcnow(session)
        return order_id
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id, lock=True)
        order.pay_data = created.pay_data
        if created.provider_txn_id:
            order.provider_txn_id = created.provider_txn_id
        order.updated_at = utcnow(session)
    return order_id


def _order(
    session: Session, merchant_id: int, order_id: int, *, lock: bool = False
) -> PaymentOrder:
    query = select(PaymentOrder).where(
        PaymentOrder.id == order_id, PaymentOrder.merchant_id == merchant_id
    )
    order = session.scalar(query.with_for_update() if lock else query)
    if order is None:
        raise NotFound("no such payment", code="payment_not_found")
    return order


def member_order(session: Session, merchant_id: int, member_id: int, order_id: int) -> PaymentOrder:
    order = _order(session, merchant_id, order_id)
    if order.member_id != member_id:
        raise NotFound("no such payment", code="payment_not_found")
    return order


def member_orders(
    session: Session, merchant_id: int, member_id: int, limit: int = 50
) -> list[PaymentOrder]:
    return list(
        session.scalars(
            select(PaymentOrder)
            .where(PaymentOrder.merchant_id == merchant_id, PaymentOrder.member_id == member_id)
            .order_by(PaymentOrder.id.desc())
            .limit(limit)
        )
    )


def merchant_orders(
    session: Session, merchant_id: int, limit: int = 50, before: int | None = None
) -> list[PaymentOrder]:
    query = select(PaymentOrder).where(PaymentOrder.merchant_id == merchant_id)
    if before is not None:
        query = query.where(PaymentOrder.id < before)
    return list(session.scalars(query.order_by(PaymentOrder.id.desc()).limit(limit)))


# ---------------------------------------------------------------- crediting


class PaymentRefused(Forbidden):
    """A notification or answer that must change nothing (forged, replayed, not ours)."""


def apply_status(
    session: Session, merchant_id: int, provider: str, status: TradeStatus
) -> PaymentOrder:
    """Act on a verified provider report: credit a paid order once. The order is locked, so
    two reports at once (a notification and a query, or the same notification twice) wait for
    each other and the second finds it paid."""
    order = session.scalar(
        select(PaymentOrder)
        .where(
            PaymentOrder.merchant_id == merchant_id,
            PaymentOrder.out_trade_no == status.out_trade_no,
            PaymentOrder.provider == provider,
        )
        .with_for_update()
    )
    if order is None:
        raise PaymentRefused("no such payment", code="payment_not_found")
    if status.state != "paid":
        return order
    if status.amount_minor != order.amount_minor or (
        status.currency is not None and status.currency.upper() != order.currency
    ):
        raise PaymentRefused(
            "the amount paid is not the amount of the payment", code="amount_mismatch"
        )
    if order.status not in (PENDING, EXPIRED):
        return order  # credited already (paid, or since refunded): never twice
    top_up, _created = stored_value.top_up(
        session,
        merchant_id,
        order.member_id,
        order.amount_minor,
        _key(order.out_trade_no),
        actor=f"payment:{provider}",
    )
    now = utcnow(session)
    order.status = PAID
    order.top_up_id = top_up.id
    order.provider_txn_id = status.provider_txn_id or order.provider_txn_id
    order.paid_at = now
    order.updated_at = now
    order.error = None
    session.flush()
    emit(
        session,
        merchant_id,
        "payment.paid",
        {
            "member_id": order.member_id,
            "payment_id": order.id,
            "provider": provider,
            "amount_minor": order.amount_minor,
            "top_up_id": top_up.id,
        },
        subject_id=order.member_id,
    )
    return order


def handle_notification(
    session: Session, merchant_id: int, provider: str, request: NotifyRequest
) -> PaymentOrder:
    """Verify a provider's notification with this merchant's keys and act on it. Anything
    that does not verify, or names no order of this merchant, is refused and changes nothing."""
    plugin = get_provider(provider)
    settings = _settings(session, merchant_id, provider)
    if settings is None:
        raise NotFound("no such notification address", code="not_found")
    try:
        status = plugin.parse_notification(request, settings, utcnow(session))
    except (NotificationRejected, ProviderMisconfigured) as exc:
        raise PaymentRefused(str(exc), code="bad_signature") from exc
    return apply_status(session, merchant_id, provider, status)


def check_payment(sessions: sessionmaker[Session], merchant_id: int, order_id: int) -> str:
    """Ask the provider where an order stands (no notification yet) and act on the answer;
    returns the order's status after."""
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id)
        if order.status not in (PENDING, EXPIRED):
            return order.status
        provider, pay = order.provider, _pay_request(order)
        settings = _settings(session, merchant_id, provider)
    if settings is None:
        return order.status
    try:
        status = get_provider(provider).query(pay, settings)
    except (ProviderUnavailable, ProviderRefused, ProviderMisconfigured, NotificationRejected):
        log.warning("payment query failed", extra={"provider": provider}, exc_info=True)
        with transaction(sessions) as session:
            order = _order(session, merchant_id, order_id, lock=True)
            order.checked_at = utcnow(session)
            return order.status
    with transaction(sessions) as session:
        if status.out_trade_no != pay.out_trade_no:
            raise PaymentRefused("the answer is about another payment", code="payment_not_found")
        order = apply_status(session, merchant_id, provider, status)
        order.checked_at = utcnow(session)
        order.provider_txn_id = order.provider_txn_id or status.provider_txn_id
        if status.state == "closed" and order.status == PENDING:
            order.status = EXPIRED
            order.updated_at = utcnow(session)
        return order.status


# ---------------------------------------------------------------- refund


def request_refund(
    sessions: sessionmaker[Session], merchant_id: int, member_id: int, order_id: int
) -> int:
    """The member asks for the unused principal of a paid top-up back: the ledger posts the
    refund at once (the member can no longer spend it) with the bonus forfeited in proportion
    (ADR 1312), then the provider is asked to pay it back. A provider that does not answer is
    asked again by the worker with the same refund number (it never refunds twice)."""
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id, lock=True)
        if order.member_id != member_id:
            raise NotFound("no such payment", code="payment_not_found")
        if order.status != PAID or order.top_up_id is None:
            raise BusinessRuleViolation("only a paid top-up can be refunded", code="not_refundable")
        before = stored_value.balance(session, merchant_id, member_id)
        top = stored_value.refund_top_up(
            session,
            merchant_id,
            order.top_up_id,
            actor=f"member:{member_id}",
            bonus_forfeit="proportional",
        )
        after = stored_value.balance(session, merchant_id, member_id)
        now = utcnow(session)
        order.refund_minor = top.refunded_cash_minor
        order.bonus_forfeited_minor = before.bonus - after.bonus
        order.refund_requested_at = now
        order.updated_at = now
        order.status = REFUND_PENDING if order.refund_minor else REFUNDED
        if not order.refund_minor:
            order.refunded_at = now
    _send_refund(sessions, merchant_id, order_id)
    return order_id


def _send_refund(sessions: sessionmaker[Session], merchant_id: int, order_id: int) -> str:
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id)
        if order.status != REFUND_PENDING:
            return order.status
        refund = RefundRequest(
            out_trade_no=order.out_trade_no,
            out_refund_no=f"{order.out_trade_no}r",
            provider_txn_id=order.provider_txn_id,
            refund_minor=order.refund_minor,
            total_minor=order.amount_minor,
            currency=order.currency,
        )
        provider = order.provider
        settings = _settings(session, merchant_id, provider)
    outcome: tuple[str, str | None, str | None]
    if settings is None:
        outcome = (REFUND_FAILED, None, "no settings for this provider")
    else:
        try:
            result = get_provider(provider).refund(refund, settings)
            state = REFUNDED if result.state == "done" else REFUND_PENDING
            outcome = (state, result.refund_id, None)
        except ProviderUnavailable as exc:
            outcome = (REFUND_PENDING, None, str(exc)[:200])
        except (ProviderRefused, ProviderMisconfigured) as exc:
            outcome = (REFUND_FAILED, None, str(exc)[:200])
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id, lock=True)
        if order.status != REFUND_PENDING:
            return order.status
        now = utcnow(session)
        order.status, order.error = outcome[0], outcome[2]
        order.refund_txn_id = outcome[1] or order.refund_txn_id
        order.checked_at = now
        order.updated_at = now
        if order.status == REFUNDED:
            order.refunded_at = now
            emit(
                session,
                merchant_id,
                "payment.refunded",
                {
                    "member_id": order.member_id,
                    "payment_id": order.id,
                    "refund_minor": order.refund_minor,
                    "bonus_forfeited_minor": order.bonus_forfeited_minor,
                },
                subject_id=order.member_id,
            )
        return order.status


# ---------------------------------------------------------------- the worker


def _due(session: Session, now: datetime) -> list[tuple[int, int, str]]:
    """Orders to look at: pending ones past their time or long without news, and refunds the
    provider has not confirmed."""
    quiet = now - QUERY_EVERY
    rows = session.execute(
        select(PaymentOrder.merchant_id, PaymentOrder.id, PaymentOrder.status)
        .where(
            (
                (PaymentOrder.status == PENDING)
                & (
                    (PaymentOrder.expires_at <= now)
                    | (PaymentOrder.created_at <= now - QUERY_AFTER)
                )
            )
            | (PaymentOrder.status == REFUND_PENDING),
            (PaymentOrder.checked_at.is_(None)) | (PaymentOrder.checked_at <= quiet),
        )
        .order_by(PaymentOrder.id)
        .limit(BATCH)
    ).all()
    return [(int(m), int(i), str(s)) for m, i, s in rows]


def expire(sessions: sessionmaker[Session], merchant_id: int, order_id: int) -> str:
    """An order past its time: paid after all (the provider says so) is credited, else it
    expires. A late notification for it still credits it (never twice)."""
    status = check_payment(sessions, merchant_id, order_id)
    if status != PENDING:
        return status
    with transaction(sessions) as session:
        order = _order(session, merchant_id, order_id, lock=True)
        if order.status == PENDING and order.expires_at <= utcnow(session):
            order.status = EXPIRED
            order.updated_at = utcnow(session)
        return order.status


def payments_task(sessions: sessionmaker[Session], settings: Any) -> int:
    """The worker's round: query and expire due orders, send refunds again."""
    del settings
    with transaction(sessions) as session:
        due = _due(session, utcnow(session))
    for merchant_id, order_id, status in due:
        try:
            if status == REFUND_PENDING:
                _send_refund(sessions, merchant_id, order_id)
            else:
                expire(sessions, merchant_id, order_id)
        except Exception:  # one order's trouble must not stop the others
            log.exception("payment check failed", extra={"payment_id": order_id})
    return len(due)
