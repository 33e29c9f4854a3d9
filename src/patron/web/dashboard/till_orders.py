"""Orders at the till: an order with its total explained, and refunds by line (ADR 0381).

Before a refund is confirmed the clerk sees what it will do — the cash to hand back, the points
given back (those that paid) and taken back (those the lines earned), the stored value returned
and what happens to the coupons — from ``orders.refund_preview.preview_refund``, which runs the
refund itself and rolls it back. Confirming records it once per form (``till-<key>``).
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from patron.core.errors import PatronError
from patron.core.http import SessionDep
from patron.coupons.refunds import coupons_after_refund
from patron.members import service as members
from patron.orders import service as orders
from patron.orders.models import Order
from patron.orders.refund_preview import RefundPreview, preview_refund
from patron.orders.schemas import RefundCreate, RefundLineIn
from patron.tenancy.models import Store
from patron.web.auth import StaffDep
from patron.web.dashboard.programs import submitted_form
from patron.web.dashboard.till_cart import KEY_PATTERN
from patron.web.dashboard.till_refusals import refusal
from patron.web.order_card import order_cards
from patron.web.rendering import flash, formatter_for, render, translate

router = APIRouter()
NAV: list[Any] = []
MAX_REASON = 300  # RefundCreate.reason
FormDep = Annotated[FormData, Depends(submitted_form)]


@router.get("/till/orders")
def find_order(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    ref: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    """An order by its number (the receipt's), to refund it."""
    ref = ref.strip()
    for number in dict.fromkeys((ref, ref.upper())) if ref else ():
        found = orders.list_orders(session, staff.merchant_id, external_id=number, limit=1)
        if found:
            return RedirectResponse(f"/till/orders/{found[0].id}", status_code=303)
    if ref:
        flash(request, translate(request, "No order has this number."), "error")
    return RedirectResponse("/till#orders", status_code=303)


def _order_context(session: Session, merchant_id: int, order: Order) -> dict[str, Any]:
    lines = orders.order_lines(session, [order.id])
    return {
        "o": order,
        "lines": lines.get(order.id, []),
        "refunds": orders.order_refunds(session, [order.id]).get(order.id, []),
        "card": order_cards(session, merchant_id, [order], lines)[order.id],
        "member": members.get_member(session, merchant_id, order.member_id)
        if order.member_id
        else None,
        "store": session.get(Store, order.store_id) if order.store_id else None,
    }


@router.get("/till/orders/{order_id}")
def order_page(request: Request, order_id: int, session: SessionDep, staff: StaffDep) -> Response:
    """The order, its total explained, and the refund form (quantities per line)."""
    order = orders.get_order(session, staff.merchant_id, order_id)
    context = _order_context(session, staff.merchant_id, order)
    return render(request, "dashboard/till/order.html", context)


def _wanted(form: FormData, order: Order, session: Session) -> list[RefundLineIn]:
    """The quantities typed per line (``qty-<line no>``); blank or 0 lines are left out."""
    wanted = []
    for line in orders.order_lines(session, [order.id]).get(order.id, []):
        raw = form.get(f"qty-{line.line_no}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text or text == "0":
            continue
        if not text.isdigit():
            raise ValueError(text)
        wanted.append(RefundLineIn(line_no=line.line_no, quantity=int(text)))
    return wanted


@router.post("/till/orders/{order_id}/refund/preview")
def refund_preview(
    request: Request, order_id: int, session: SessionDep, staff: StaffDep, form: FormDep
) -> Response:
    """What refunding these quantities would do, computed by the refund itself (rolled back):
    the page to confirm it."""
    m = staff.merchant_id
    order = orders.get_order(session, m, order_id)
    asked = _asked(request, session, order, form)
    if asked is None:
        return _to_order(order_id)
    try:
        preview = preview_refund(session, m, order.id, asked)
    except PatronError as exc:
        return _refused(request, session, order_id, exc)
    return _show_preview(request, session, m, order, asked, preview)


def _asked(request: Request, session: Session, order: Order, form: FormData) -> RefundCreate | None:
    """The refund the form asks for, or None (with a notice) if it asks for nothing readable."""
    try:
        wanted = _wanted(form, order, session)
    except ValueError:
        flash(request, translate(request, "Enter whole numbers of items to refund."), "error")
        return None
    if not wanted:
        flash(request, translate(request, "Choose at least one item to refund."), "error")
        return None
    reason = str(form.get("reason") or "").strip()[:MAX_REASON]
    key = str(form.get("key") or "")
    external_id = f"till-{key}" if re.fullmatch(KEY_PATTERN, key) else "preview"
    return RefundCreate(external_id=external_id, lines=wanted, reason=reason or None)


def _to_order(order_id: int) -> RedirectResponse:
    return RedirectResponse(f"/till/orders/{order_id}#refund", status_code=303)


def _refused(request: Request, session: Session, order_id: int, exc: PatronError) -> Response:
    session.rollback()
    reason = refusal(request, exc)
    flash(request, translate(request, "Not refunded: %(reason)s", reason=reason), "error")
    return _to_order(order_id)


def _show_preview(
    request: Request,
    session: Session,
    merchant_id: int,
    order: Order,
    asked: RefundCreate,
    preview: RefundPreview,
) -> Response:
    context = _order_context(session, merchant_id, order)
    context.update(
        {
            "preview": preview,
            "coupons": coupons_after_refund(session, merchant_id, order.id, preview.order_status),
            "wanted": {w.line_no: w.quantity for w in asked.lines or []},
            "reason": asked.reason or "",
            "key": secrets.token_urlsafe(18),
        }
    )
    return render(request, "dashboard/till/refund.html", context)


@router.post("/till/orders/{order_id}/refund")
def refund(
    request: Request,
    order_id: int,
    session: SessionDep,
    staff: StaffDep,
    form: FormDep,
    key: Annotated[str, Form(pattern=KEY_PATTERN)],
    expected_cash: Annotated[int, Form()],
) -> Response:
    """Record the refund the clerk confirmed, once per form (``till-<key>``: a second tap
    replays it). If it would now hand back another amount than the one shown (the order
    changed meanwhile), nothing is recorded and the clerk checks it again."""
    m = staff.merchant_id
    order = orders.get_order(session, m, order_id)
    asked = _asked(request, session, order, form)
    if asked is None:
        return _to_order(order_id)
    try:
        done = orders.record_refund(session, m, order.id, asked)
    except PatronError as exc:
        return _refused(request, session, order_id, exc)
    if done.outcome is not None and done.outcome.cash_minor != expected_cash:
        session.rollback()
        flash(request, translate(request, "The refund has changed: check it again."), "error")
        return _to_order(order_id)
    if done.outcome is None:
        flash(request, translate(request, "This refund was already recorded."))
    else:
        cash = formatter_for(request).money(done.outcome.cash_minor, order.currency)
        flash(request, translate(request, "Refund recorded. Hand back %(cash)s.", cash=cash))
    return _to_order(order_id)
