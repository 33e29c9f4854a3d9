"""Scan to buy: the phone page a product's QR code opens (ADR 1341).

A signed-in member of the shop sees the product with their price: the checkout's quote for
one of it (tier discount, member day, automatic promotions), what it earns, and their
membership code to show at the till (there is no online checkout: the till sells it). A
product not yet released is shown only to members the early access rule lets buy it now
(ADR 0357); everyone else reads when it goes on sale. A visitor who is not signed in is asked
to sign in or join, and comes back to the product afterwards.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patron.checkout import service as checkout
from patron.checkout.members import membership_qr_svg
from patron.checkout.schemas import CartLineIn, QuoteOut, QuoteRequest
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import NotFound, PatronError
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.members.models import Member
from patron.orders import service as orders
from patron.orders.models import Product
from patron.portal import service as portal
from patron.portal.products import product_path
from patron.programs.context import current_tier, load_programs
from patron.programs.early_access import early_access_refusal, is_unreleased
from patron.tenancy.models import Merchant, Store
from patron.web.auth import PortalSignInRequired, current_member
from patron.web.nav import NavItem
from patron.web.portal.code_signin import shop_of
from patron.web.portal.early_access import WHO_MAY_BUY
from patron.web.rendering import render, session_data

log = logging.getLogger("patron.web.portal.product")
router = APIRouter(prefix="/portal")
NAV: list[NavItem] = []


def _member_here(request: Request, session: Session, merchant: Merchant) -> Member | None:
    """The signed-in member if they are this shop's, else None (a member of another shop is a
    visitor here)."""
    if session_data(request).get("merchant_id") != merchant.id:
        return None
    try:
        return current_member(request, session).member
    except PortalSignInRequired:
        return None


def _product(session: Session, merchant: Merchant, product_id: int) -> Product:
    product = orders.get_product(session, merchant.id, product_id)
    if not product.active:
        raise NotFound("product not found", code="product_not_found")
    return product


def _online_store(session: Session, merchant_id: int) -> int | None:
    """The shop's online store, so rules made for online sales apply to the member's price."""
    return session.scalar(
        select(Store.id)
        .where(Store.merchant_id == merchant_id, Store.channel == "online")
        .order_by(Store.id)
        .limit(1)
    )


def member_quote(
    session: Session, merchant_id: int, member: Member, product: Product, secret: str
) -> QuoteOut | None:
    """The checkout's quote for one of ``product`` bought by ``member`` (None if the checkout
    refuses it: the page then shows the list price only)."""
    req = QuoteRequest(
        member_id=member.id,
        store_id=_online_store(session, merchant_id),
        lines=[CartLineIn(sku=product.sku, quantity=1)],
    )
    try:
        return checkout.quote(session, merchant_id, req, secret)
    except PatronError:
        return None


def _record_visit(request: Request, merchant_id: int, member_id: int) -> None:
    """A product page is a portal page view (daily actives, the store customers online figure);
    written apart so a lost visit never costs the member the page."""
    try:
        with transaction(request.app.state.sessions) as writer:
            portal.record_visit(writer, merchant_id, member_id)
    except SQLAlchemyError:
        log.warning("portal visit not recorded", exc_info=True)


@router.get("/{slug}/p/{product_id}")
def product_page(
    request: Request, slug: str, product_id: PathId, session: SessionDep, settings: SettingsDep
) -> Response:
    merchant = shop_of(request, session, slug)
    product = _product(session, merchant, product_id)
    at = utcnow(session)
    unreleased = is_unreleased(product.release_at, at)
    member = _member_here(request, session, merchant)
    context: dict[str, Any] = {
        "shop": merchant,
        "product": product,
        "unreleased": unreleased,
        "visitor": member is None,
        "shown": not unreleased,
        "quote": None,
        "who_may_buy": "",
    }
    if member is None:
        # Sign-in (or joining) comes back here (code_signin.check_code).
        session_data(request)["after"] = product_path(merchant, product.id)
        return render(request, "portal/product.html", context)
    _record_visit(request, merchant.id, member.id)
    if unreleased:
        programs = load_programs(session, merchant.id, at)
        tier = current_tier(session, programs, merchant.id, member.id)
        refusal = early_access_refusal(programs, True, tier.code if tier else None)
        context["shown"] = refusal is None
        context["who_may_buy"] = WHO_MAY_BUY.get(refusal.code if refusal else None, "")
    if context["shown"]:
        context["quote"] = member_quote(session, merchant.id, member, product, settings.secret_key)
        # Presentation attributes only (no inline styles): the strict CSP holds.
        context["qr"] = Markup(membership_qr_svg(member, settings.secret_key))
    return render(request, "portal/product.html", context)
