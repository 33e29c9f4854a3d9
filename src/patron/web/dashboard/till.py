"""The till (ADR 0380): a clerk finds the member (or sells to a walk-in customer), builds the
cart from the catalogue, sees the checkout's quote line by line with the points, stored value
and coupons on offer, charges once, and reads the receipt.

Every figure comes from the checkout service (``till_quote``, ``commit``, ``committed``); this
module keeps the sale in progress (:mod:`till_cart`) and turns taps into service calls. Pages
work without JavaScript; ``static/js/till.js`` only stops a second tap while a form is sent.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.checkout import service as checkout
from patron.checkout.service import TillQuote
from patron.core.clock import utcnow
from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.coupons.service import normalize_code
from patron.i18n import N_
from patron.members import service as members
from patron.members.models import Member
from patron.orders import service as orders
from patron.orders.models import Product
from patron.programs.config import Redemption
from patron.programs.rules import points_rule
from patron.tenancy.models import Channel, Store
from patron.web import loyalty
from patron.web.auth import StaffContext, StaffDep
from patron.web.dashboard.program_fields import Unreadable, read_value
from patron.web.dashboard.program_forms import Field
from patron.web.dashboard.till_cart import (
    KEY_PATTERN,
    MAX_LINES,
    Sale,
    current_sale,
    keep_sale,
    new_sale,
    sale_of_form,
)
from patron.web.dashboard.till_members import find_members, live_member, member_panel
from patron.web.dashboard.till_refusals import REFUSALS, refusal
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("till", N_("Till"), "/till", icon="stored_value", order=5)]
CATALOGUE_SHOWN = 24
MAX_PAYMENT = 10**11  # as Sale allows; more than any balance
# A sale's key or order number used already by another body: the sale was charged before.
ALREADY_CHARGED = {"idempotency_key_reused", "order_conflict", "order_already_recorded"}


def _stores(session: Session, merchant_id: int) -> list[Store]:
    return list(
        session.scalars(
            select(Store)
            .where(Store.merchant_id == merchant_id)
            .order_by(Store.channel != Channel.STORE.value, Store.id)
        )
    )


def _categories(session: Session, merchant_id: int) -> list[str]:
    rows = session.scalars(
        select(Product.category)
        .where(
            Product.merchant_id == merchant_id,
            Product.active.is_(True),
            Product.category.is_not(None),
        )
        .distinct()
        .order_by(Product.category)
    )
    return [c for c in rows if c]


def _sale(request: Request, session: Session, staff: StaffContext) -> Sale:
    """The clerk's sale, in one of this merchant's stores (the first shop by default)."""
    sale = current_sale(request)
    stores = _stores(session, staff.merchant_id)
    if sale.store_id not in {s.id for s in stores}:
        sale = sale.model_copy(update={"store_id": stores[0].id if stores else None})
    return sale


def _buyer(session: Session, staff: StaffContext, sale: Sale) -> tuple[Sale, Member | None]:
    """The sale's member as they are now (merged into another: that one; gone: a walk-in)."""
    if sale.member_id is None:
        return sale, None
    try:
        member = live_member(
            session,
            staff.merchant_id,
            members.get_member(session, staff.merchant_id, sale.member_id),
        )
    except NotFound:
        return sale.model_copy(
            update={"member_id": None, "points": None, "stored_value": None}
        ), None
    return sale.model_copy(update={"member_id": member.id}), member


def _redemption(session: Session, merchant_id: int) -> Redemption | None:
    """How points pay at this shop (shown beside the points on offer)."""
    rule = points_rule(session, merchant_id, utcnow(session))
    if rule is None or not rule.config.redemption.enabled:
        return None
    return rule.config.redemption


def _quote(
    request: Request, session: Session, staff: StaffContext, sale: Sale, secret: str
) -> tuple[TillQuote | None, str | None]:
    """The checkout's quote of the sale, or why there is none. A refused coupon or payment
    still shows the goods (quoted without them) so the clerk can take it off."""
    req = sale.quote_request()
    if req is None:
        return None, None
    try:
        return checkout.till_quote(session, staff.merchant_id, req, secret), None
    except PatronError as exc:
        problem = refusal(request, exc)
    bare = req.model_copy(update={"coupon_codes": [], "points": None, "stored_value": None})
    try:
        return checkout.till_quote(session, staff.merchant_id, bare, secret), problem
    except PatronError:
        return None, problem


@router.get("/till")
def till_page(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    settings: SettingsDep,
    find: Annotated[str, Query(max_length=500)] = "",
    q: Annotated[str, Query(max_length=120)] = "",
    category: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    """The sale in progress: the member and what to tell them, the cart quoted line by line,
    the payments on offer, and the catalogue."""
    m = staff.merchant_id
    sale, member = _buyer(session, staff, _sale(request, session, staff))
    quote, problem = _quote(request, session, staff, sale, settings.secret_key)
    names = orders.products_by_sku(session, m, [ln.sku for ln in sale.lines])
    catalogue = orders.list_products(
        session,
        m,
        q=q.strip() or None,
        category=category or None,
        active=True,
        limit=CATALOGUE_SHOWN,
    )[:CATALOGUE_SHOWN]
    context: dict[str, Any] = {
        "sale": sale,
        "sale_json": sale.model_dump_json(),
        "stores": _stores(session, m),
        "member": member,
        "panel": member_panel(session, staff, member, quote) if member else None,
        "find": find,
        "found": find_members(session, m, find, settings.secret_key) if find else [],
        "quote": quote,
        "problem": problem,
        "products": names,
        "catalogue": catalogue,
        "categories": _categories(session, m),
        "q": q,
        "category": category,
        "in_cart": {ln.sku: ln.quantity for ln in sale.lines},
        "redemption": _redemption(session, m) if member else None,
    }
    return render(request, "dashboard/till/index.html", context)


def _back(anchor: str = "", **query: str) -> RedirectResponse:
    """Back to the till (keeping a catalogue search or a member search) at ``anchor``."""
    kept = urlencode({k: v for k, v in query.items() if v})
    target = "/till" + (f"?{kept}" if kept else "") + (f"#{anchor}" if anchor else "")
    return RedirectResponse(target, status_code=303)


@router.post("/till/member")
def choose_member(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    settings: SettingsDep,
    find: Annotated[str, Form(max_length=500)] = "",
    member_id: Annotated[int | None, Form()] = None,
    walk_in: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Who is buying: a member chosen from the list, the one member a search or a scanned card
    names, or a walk-in customer. A new buyer drops the previous one's points and stored value."""
    m = staff.merchant_id
    sale = _sale(request, session, staff)
    if walk_in:
        chosen = None
    elif member_id is not None:
        chosen = live_member(session, m, members.get_member(session, m, member_id))
    else:
        found = find_members(session, m, find, settings.secret_key)
        if len(found) != 1:
            if not found:
                flash(request, translate(request, "No member found for “%(q)s”.", q=find), "error")
                return _back("member")
            return _back("member", find=find)
        chosen = found[0]
    keep_sale(
        request,
        sale.model_copy(
            update={
                "member_id": chosen.id if chosen else None,
                "points": None,
                "stored_value": None,
            }
        ),
    )
    return _back("member")


@router.post("/till/store")
def choose_store(
    request: Request, session: SessionDep, staff: StaffDep, store_id: Annotated[int, Form()]
) -> Response:
    if store_id not in {s.id for s in _stores(session, staff.merchant_id)}:
        raise NotFound("store not found", code="store_not_found")
    keep_sale(request, _sale(request, session, staff).model_copy(update={"store_id": store_id}))
    return _back()


@router.post("/till/cart/items")
def set_item(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    sku: Annotated[str, Form(min_length=1, max_length=80)],
    quantity: Annotated[int | None, Form(ge=0, le=9999)] = None,
    q: Annotated[str, Form(max_length=120)] = "",
    category: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """Add one of a product (no ``quantity``), or set its quantity (0 takes it off the cart)."""
    sale = _sale(request, session, staff)
    wanted = sale.quantity_of(sku) + 1 if quantity is None else quantity
    if wanted and sku not in orders.products_by_sku(session, staff.merchant_id, [sku]):
        flash(request, translate(request, "This product is not in the catalogue."), "error")
        return _back("catalogue", q=q, category=category)
    if wanted and not sale.quantity_of(sku) and len(sale.lines) >= MAX_LINES:
        flash(request, translate(request, "The cart is full: charge this sale first."), "error")
        return _back("cart", q=q, category=category)
    keep_sale(request, sale.with_quantity(sku, wanted))
    return _back("catalogue" if quantity is None else "cart", q=q, category=category)


def _try(
    request: Request,
    session: Session,
    staff: StaffContext,
    sale: Sale,
    secret: str,
    done: str,
) -> Response:
    """Keep ``sale`` if the checkout can quote it, else say why and keep the sale as it was."""
    req = sale.quote_request()
    try:
        if req is not None:
            checkout.till_quote(session, staff.merchant_id, req, secret)
    except PatronError as exc:
        reason = refusal(request, exc)
        flash(request, translate(request, "Not applied: %(reason)s", reason=reason), "error")
        return _back("cart")
    keep_sale(request, sale)
    flash(request, translate(request, done))
    return _back("cart")


@router.post("/till/cart/coupons")
def coupon(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    settings: SettingsDep,
    code: Annotated[str, Form(min_length=1, max_length=40)],
    remove: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Put a coupon on the sale (if the checkout accepts it on this cart) or take it off."""
    sale = _sale(request, session, staff)
    wanted = normalize_code(code)
    if remove:
        keep_sale(
            request, sale.model_copy(update={"coupons": [c for c in sale.coupons if c != wanted]})
        )
        return _back("cart")
    if wanted in sale.coupons or len(sale.coupons) >= 5:
        flash(request, translate(request, "This coupon is on the sale already."), "error")
        return _back("cart")
    changed = sale.model_copy(update={"coupons": [*sale.coupons, wanted]})
    return _try(request, session, staff, changed, settings.secret_key, N_("Coupon applied."))


def _payment(text: str, money: bool, digits: int) -> int | str | None:
    """'' (none), 'max', or a number of points / an amount of money (major units)."""
    text = text.strip().lower()
    if text in {"", "0"}:
        return None
    if text == "max":
        return "max"
    value = read_value(Field("pay", "", "money" if money else "int"), text, digits)
    if not isinstance(value, int) or value <= 0:
        raise Unreadable(N_("Enter an amount above zero."))
    if value > MAX_PAYMENT:
        raise Unreadable(REFUSALS["insufficient_balance"])
    return value


@router.post("/till/cart/payments")
def payments(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    settings: SettingsDep,
    points: Annotated[str | None, Form(max_length=20)] = None,
    stored_value: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    """How many points and how much stored value pay ('max': as much as the rules allow);
    a field not sent keeps its choice. Refused amounts change nothing."""
    sale = _sale(request, session, staff)
    if sale.member_id is None:
        flash(request, translate(request, "Find the member first."), "error")
        return _back("member")
    digits = int(get_currency_precision(staff.merchant.currency))
    change: dict[str, Any] = {}
    try:
        if points is not None:
            change["points"] = _payment(points, False, digits)
        if stored_value is not None:
            change["stored_value"] = _payment(stored_value, True, digits)
    except Unreadable as exc:
        flash(request, translate(request, exc.args[0]), "error")
        return _back("pay")
    changed = sale.model_copy(update=change)
    return _try(request, session, staff, changed, settings.secret_key, N_("Payment updated."))


@router.post("/till/cart/clear")
def clear(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Start a new sale (same store)."""
    keep_sale(request, new_sale(_sale(request, session, staff).store_id))
    return _back()


@router.post("/till/charge")
def charge(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    settings: SettingsDep,
    sale: Annotated[str, Form(max_length=20_000)],
    expected_cash: Annotated[int, Form(ge=0)],
) -> Response:
    """Record the sale the clerk confirmed, exactly once: its key is the checkout's idempotency
    key, so a second tap or a resent form replays it. If the checkout's total is no longer the
    one shown (a member day ended, a balance was spent), nothing is recorded."""
    confirmed = sale_of_form(sale)
    req = confirmed.commit_request() if confirmed else None
    if confirmed is None or req is None:
        flash(
            request,
            translate(request, "The sale could not be read. Check it and charge again."),
            "error",
        )
        return _back("cart")
    try:
        done = checkout.commit(
            session,
            staff.merchant_id,
            req,
            confirmed.idempotency_key,
            staff.actor,
            settings.secret_key,
        )
    except PatronError as exc:
        session.rollback()
        if exc.code in ALREADY_CHARGED and checkout.committed(
            session, staff.merchant_id, confirmed.idempotency_key
        ):
            # The sale went through before (its answer was lost) and the cart changed since:
            # show what was charged rather than charge the changed cart as another sale.
            notice = (
                "This sale was already charged: here is its receipt. Start a new sale for the rest."
            )
            flash(request, translate(request, notice), "error")
            return _receipt_of(request, confirmed)
        reason = refusal(request, exc)
        flash(request, translate(request, "Not charged: %(reason)s", reason=reason), "error")
        return _back("cart")
    if not done.replayed and done.quote.cash_due_minor != expected_cash:
        session.rollback()
        flash(
            request,
            translate(request, "The total has changed: check it and charge again."),
            "error",
        )
        return _back("cart")
    return _receipt_of(request, confirmed)


def _receipt_of(request: Request, charged: Sale) -> RedirectResponse:
    """To the receipt of a charged sale; the till moves on to a new sale."""
    if current_sale(request).key == charged.key:
        keep_sale(request, new_sale(charged.store_id))
    return RedirectResponse(f"/till/receipt/{charged.key}", status_code=303)


@router.get("/till/receipt/{key}")
def receipt(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    key: Annotated[str, Path(pattern=KEY_PATTERN)],
) -> Response:
    """The receipt of a till sale, from the quote the checkout recorded with it."""
    done = checkout.committed(session, staff.merchant_id, f"till-{key}")
    if done is None:
        raise NotFound("no such sale", code="sale_not_found")
    order = orders.get_order(session, staff.merchant_id, done.order_id)
    member = (
        members.get_member(session, staff.merchant_id, order.member_id) if order.member_id else None
    )
    context = {
        "done": done,
        "q": done.quote,
        "order": order,
        "member": member,
        "store": session.get(Store, order.store_id) if order.store_id else None,
        "balances": loyalty.balances(session, staff.merchant_id, member.id) if member else None,
    }
    return render(request, "dashboard/till/receipt.html", context)
