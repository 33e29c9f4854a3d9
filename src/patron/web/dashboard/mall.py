"""The points mall in the dashboard: the items (price in points, stock, per-member limit, on
offer or not), an item's form, and the mall orders by fulfilment state with the buttons that move
an order along (ready / collected, shipped / delivered, cancelled — which refunds the points).

Items: reading is open to every staff member, changing needs a manager. Orders: any staff member
moves them along (the clerk hands the gift over), as the API allows. Every change goes through
``patron.coupons.mall``; a refusal is shown and its transaction rolled back (ADR 0850).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep
from patron.coupons import mall, service
from patron.coupons.models import MallItem, MallItemKind, MallOrder, MallOrderStatus
from patron.coupons.schemas import MallItemIn, MallItemPatch
from patron.i18n import N_
from patron.members.models import Member
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import offer_forms as forms
from patron.web.dashboard.program_forms import exponent
from patron.web.dashboard.programs import submitted_form
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("mall", N_("Points mall"), "/mall", icon="bag", order=24)]

ORDERS_PER_PAGE = 50
STATES = tuple(s.value for s in MallOrderStatus)
FormDep = Annotated[FormData, Depends(submitted_form)]
DONE = {
    "ready": N_("Order %(id)s is ready for collection."),
    "collected": N_("Order %(id)s is collected."),
    "shipped": N_("Order %(id)s is shipped."),
    "delivered": N_("Order %(id)s is delivered."),
    "cancelled": N_("Order %(id)s is cancelled; the points are back with the member."),
}


def _refused(request: Request, session: Session, exc: PatronError) -> None:
    session.rollback()
    if isinstance(exc, NotFound) and exc.code in {"mall_item_not_found", "mall_order_not_found"}:
        raise exc
    flash(
        request,
        translate(request, "Not done: %(reason)s", reason=forms.refusal(request, exc)),
        "error",
    )


@router.get("/mall")
def item_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Every item: kind, price, stock left, per-member limit, redeemed so far, on offer."""
    rows = mall.list_items(session, staff.merchant_id)
    redeemed = dict(
        session.execute(
            select(MallOrder.item_id, func.sum(MallOrder.quantity))
            .where(
                MallOrder.merchant_id == staff.merchant_id,
                MallOrder.status != MallOrderStatus.CANCELLED.value,
            )
            .group_by(MallOrder.item_id)
        ).all()
    )
    templates = {t.id: t for t in service.list_templates(session, staff.merchant_id, True)}
    context = {
        "rows": rows,
        "redeemed": {int(k): int(v or 0) for k, v in redeemed.items()},
        "templates": templates,
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/mall/items.html", context)


def _form_page(
    request: Request,
    session: Session,
    staff: StaffContext,
    values: dict[str, Any],
    item: MallItem | None,
    errors: dict[str, str] | None = None,
) -> Response:
    errors = errors or {}
    keys = {f.key for f in forms.fields_of(forms.ITEM_FORM)}
    coupons = service.list_templates(session, staff.merchant_id)
    context = {
        "title": item.name if item else N_("New mall item"),
        "translated_title": item is None,
        "crumbs": [("/mall", N_("Points mall"))],
        "action": f"/mall/items/{item.id}/edit" if item else "/mall/items/new",
        "back": "/mall",
        "sections": forms.ITEM_FORM,
        "editable": forms.ITEM_EDITABLE if item is not None else None,
        "fixed_note": N_("The kind, product and coupon of an item are fixed once it exists."),
        "values": values,
        "errors": errors,
        "unplaced": [msg for key, msg in errors.items() if key not in keys],
        "store_choices": [],
        "coupon_choices": [(str(t.id), t.name) for t in coupons],
        "submit": N_("Save item"),
    }
    return render(request, "dashboard/offers/form.html", context, status=422 if errors else 200)


@router.get("/mall/items/new")
def new_item(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    return _form_page(request, session, staff, {"kind": "gift"}, None)


@router.post("/mall/items/new")
def create_item(
    request: Request, session: SessionDep, staff: ManagerPageDep, form: FormDep
) -> Response:
    """Add an item through ``mall.create_item``; mistakes come back on the form."""
    fields = forms.fields_of(forms.ITEM_FORM)
    merchant = staff.merchant
    got = forms.read(request, fields, form, exponent(merchant.currency), merchant.timezone)
    done = forms.submit(
        request,
        session,
        MallItemIn,
        got,
        lambda data: mall.create_item(session, staff.merchant_id, data),
        N_("Item saved."),
        lambda _i: "/mall",
        {"coupon_template_not_found": "template_id"},
    )
    if done is not None:
        return done
    return _form_page(request, session, staff, forms.typed_values(fields, form), None, got.errors)


@router.get("/mall/items/{item_id}/edit")
def edit_item(
    request: Request, item_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    item = mall.get_item(session, staff.merchant_id, item_id)
    merchant = staff.merchant
    values = forms.shown_values(
        forms.fields_of(forms.ITEM_FORM), item, exponent(merchant.currency), merchant.timezone
    )
    return _form_page(request, session, staff, values, item)


@router.post("/mall/items/{item_id}/edit")
def update_item(
    request: Request, item_id: int, session: SessionDep, staff: ManagerPageDep, form: FormDep
) -> Response:
    """Change price, stock (a restock sets what is left), limit, dates (``mall.update_item``)."""
    item = mall.get_item(session, staff.merchant_id, item_id)
    merchant = staff.merchant
    digits = exponent(merchant.currency)
    fields = forms.fields_of(forms.ITEM_FORM, forms.ITEM_EDITABLE)
    got = forms.read(request, fields, form, digits, merchant.timezone)
    done = forms.submit(
        request,
        session,
        MallItemPatch,
        got,
        lambda patch: mall.update_item(session, staff.merchant_id, item_id, patch),
        N_("Item saved."),
        lambda _i: "/mall",
    )
    if done is not None:
        return done
    item = mall.get_item(session, staff.merchant_id, item_id)
    values = forms.shown_values(forms.fields_of(forms.ITEM_FORM), item, digits, merchant.timezone)
    values |= forms.typed_values(fields, form)
    return _form_page(request, session, staff, values, item, got.errors)


@router.post("/mall/items/{item_id}/{action}")
def item_status(
    request: Request, item_id: int, action: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Take an item off the mall (``archive``) or offer it again (``restore``)."""
    status = {"archive": "archived", "restore": "active"}.get(action)
    if status is None:
        raise NotFound("no such action", code="not_found")
    mall.update_item(
        session,
        staff.merchant_id,
        item_id,
        MallItemPatch(status=status),
    )
    done = N_("Item taken off the mall.") if status == "archived" else N_("Item on offer again.")
    flash(request, translate(request, done))
    return RedirectResponse("/mall", status_code=303)


def next_states(order: MallOrder, item: MallItem | None) -> list[str]:
    """The buttons an order shows (the service still judges each move)."""
    voucher = item is not None and item.kind == MallItemKind.VOUCHER.value
    if voucher and order.status == MallOrderStatus.DELIVERED.value:
        return [MallOrderStatus.CANCELLED.value]
    return [s for s in STATES if s in mall.TRANSITIONS[order.status]]


@router.get("/mall/orders")
def order_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Mall orders, newest first, by fulfilment state, with the moves each one allows."""
    status = status if status in STATES else ""
    rows = mall.list_orders(
        session,
        staff.merchant_id,
        status=status or None,
        limit=ORDERS_PER_PAGE,
        cursor=cursor,
    )
    more = len(rows) > ORDERS_PER_PAGE
    rows = rows[:ORDERS_PER_PAGE]
    items = {i.id: i for i in mall.list_items(session, staff.merchant_id)}
    member_ids = {o.member_id for o in rows}
    people = {
        m.id: m
        for m in session.scalars(
            select(Member).where(Member.merchant_id == staff.merchant_id, Member.id.in_(member_ids))
        )
    }
    counts = dict(
        session.execute(
            select(MallOrder.status, func.count())
            .where(MallOrder.merchant_id == staff.merchant_id)
            .group_by(MallOrder.status)
        ).all()
    )
    context = {
        "rows": rows,
        "items": items,
        "people": people,
        "moves": {o.id: next_states(o, items.get(o.item_id)) for o in rows},
        "status": status,
        "states": STATES,
        "counts": {str(k): int(v) for k, v in counts.items()},
        "next_cursor": rows[-1].id if more and rows else None,
        "paged": cursor is not None,
    }
    return render(request, "dashboard/mall/orders.html", context)


@router.post("/mall/orders/{mall_order_id}")
def move_order(
    request: Request,
    mall_order_id: int,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Move an order along through ``mall.update_order`` (cancelling refunds the points)."""
    mall.get_order(session, staff.merchant_id, mall_order_id)
    target = back if back.startswith("/mall/orders") else "/mall/orders"
    if status not in STATES:
        flash(request, translate(request, "Choose what happened to the order."), "error")
        return RedirectResponse(target, status_code=303)
    try:
        mall.update_order(
            session,
            staff.merchant_id,
            mall_order_id,
            status,
            staff.actor,
            note.strip() or None,
        )
    except PatronError as exc:
        _refused(request, session, exc)
    else:
        flash(request, translate(request, DONE.get(status, "%(id)s"), id=mall_order_id))
    return RedirectResponse(target, status_code=303)
