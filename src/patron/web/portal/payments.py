"""Topping up stored value in the portal: choose an amount (the bonus shown before paying),
choose how to pay, pay (a QR code to scan, or the card form), see the result and the history,
and ask for the unused principal back (docs/payments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.i18n import N_
from patron.payments import service
from patron.programs import stored_value
from patron.programs.rules import stored_value_rule
from patron.web import loyalty
from patron.web.auth import current_member
from patron.web.payment_words import (
    PROVIDER_NAMES,
    STATUS_NAMES,
    STATUS_TONES,
    amount_minor,
    major_text,
)
from patron.web.portal.pages import VisitorDep
from patron.web.rendering import flash, render, translate

router = APIRouter(prefix="/portal")
NAV: list[Any] = []  # reached from the stored value page
REFUSALS = {
    "provider_not_available": N_("This way to pay is not available right now."),
    "invalid_amount": N_("Enter an amount to top up."),
    "not_refundable": N_("Only a paid top-up can be refunded."),
    "nothing_to_refund": N_("Nothing of this top-up is left to refund."),
    "already_refunded": N_("This top-up was already refunded."),
}


def _qr(content: str) -> Markup:
    qr = segno.make(content, error="m")
    return Markup(qr.svg_inline(scale=5, border=2, omitsize=False))


@dataclass(frozen=True)
class Payer:
    merchant_id: int
    member_id: int
    shop_name: str


def payer(request: Request) -> Payer:
    """The signed-in member, read in a read session: the forms below hold no write lock
    while they wait on a provider (on SQLite the request's write session would lock out the
    payment's own short transactions)."""
    session = request.app.state.read_sessions()
    try:
        who = current_member(request, session)
        return Payer(who.merchant_id, who.member.id, who.merchant.name)
    finally:
        session.rollback()
        session.close()


PayerDep = Annotated[Payer, Depends(payer)]


def _context_words() -> dict[str, Any]:
    return {"provider_names": PROVIDER_NAMES, "status_names": STATUS_NAMES, "tones": STATUS_TONES}


@router.get("/top-up")
def top_up_page(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    """Amounts with the bonus each gets, the ways to pay, and my payments."""
    m = who.merchant_id
    rule = stored_value_rule(session, m, utcnow(session))
    levels = sorted(rule.config.bonus_levels, key=lambda lv: lv.top_up_minor)
    context = {
        "levels": [(major_text(lv.top_up_minor, who.merchant.currency), lv) for lv in levels],
        "providers": service.usable_providers(session, m),
        "orders": service.member_orders(session, m, who.member.id),
        "balances": loyalty.balances(session, m, who.member.id),
        **_context_words(),
    }
    return render(request, "portal/payments/top_up.html", context)


@router.get("/top-up/confirm")
def confirm_page(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    amount: Annotated[str, Query(max_length=20)] = "",
    custom: Annotated[str, Query(max_length=20)] = "",
    provider: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """What I pay, the bonus I get for it, and how: one tap to pay."""
    m = who.merchant_id
    currency = who.merchant.currency
    minor = amount_minor(custom.strip() or amount, currency)
    providers = service.usable_providers(session, m)
    if minor is None or minor > stored_value.MAX_TOP_UP:
        flash(request, translate(request, "Enter an amount to top up."), "error")
        return RedirectResponse("/portal/top-up", status_code=303)
    if provider not in providers:
        flash(request, translate(request, "Choose how to pay."), "error")
        return RedirectResponse("/portal/top-up", status_code=303)
    context = {
        "amount_minor": minor,
        "bonus_minor": stored_value.top_up_bonus(session, m, minor),
        "provider": provider,
        **_context_words(),
    }
    return render(request, "portal/payments/confirm.html", context)


@router.post("/top-up")
def pay(
    request: Request,
    who: PayerDep,
    settings: SettingsDep,
    amount_minor: Annotated[int, Form(ge=1, le=stored_value.MAX_TOP_UP)],
    provider: Annotated[str, Form(max_length=16)],
) -> Response:
    """Make the payment at the provider and show how to pay it."""
    description = translate(request, "%(shop)s stored value top-up", shop=who.shop_name)
    try:
        order_id = service.start_payment(
            request.app.state.sessions,
            who.merchant_id,
            who.member_id,
            provider,
            amount_minor,
            base_url=settings.base_url,
            description=description,
        )
    except PatronError as exc:
        flash(request, translate(request, REFUSALS.get(exc.code, exc.message)), "error")
        return RedirectResponse("/portal/top-up", status_code=303)
    return RedirectResponse(f"/portal/top-up/{order_id}", status_code=303)


@router.get("/top-up/{order_id}")
def payment_page(
    request: Request, order_id: PathId, session: SessionDep, who: VisitorDep
) -> Response:
    """One payment: the QR code (or card form) while it waits, then the result."""
    order = service.member_order(session, who.merchant_id, who.member.id, order_id)
    qr = order.pay_data.get("qr") if order.status == "pending" else None
    context = {
        "order": order,
        "qr": _qr(qr) if isinstance(qr, str) else None,
        "balances": loyalty.balances(session, who.merchant_id, who.member.id),
        **_context_words(),
    }
    return render(request, "portal/payments/payment.html", context)


def _own(request: Request, who: Payer, order_id: int) -> None:
    """404 unless the order is this member's."""
    with transaction(request.app.state.read_sessions) as session:
        service.member_order(session, who.merchant_id, who.member_id, order_id)


@router.post("/top-up/{order_id}/check")
def check(request: Request, order_id: PathId, who: PayerDep) -> Response:
    """ "I have paid": ask the provider now rather than wait for its notification."""
    _own(request, who, order_id)
    status = service.check_payment(request.app.state.sessions, who.merchant_id, order_id)
    if status == "pending":
        flash(request, translate(request, "Not paid yet. Scan the code to pay."), "info")
    return RedirectResponse(f"/portal/top-up/{order_id}", status_code=303)


@router.post("/top-up/{order_id}/refund")
def refund(request: Request, order_id: PathId, who: PayerDep) -> Response:
    """Ask for what is left of this top-up's principal back (the bonus goes in proportion)."""
    _own(request, who, order_id)
    try:
        service.request_refund(request.app.state.sessions, who.merchant_id, who.member_id, order_id)
    except PatronError as exc:
        if exc.status_code == 404:
            raise
        flash(request, translate(request, REFUSALS.get(exc.code, exc.message)), "error")
        return RedirectResponse(f"/portal/top-up/{order_id}", status_code=303)
    flash(request, translate(request, "Refund requested."))
    return RedirectResponse(f"/portal/top-up/{order_id}", status_code=303)
