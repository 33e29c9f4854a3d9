"""The member's loyalty in the portal: membership card with QR code, points, tier, stored value,
coupons wallet and the points mall."""

from __future__ import annotations

import io
import secrets
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from patron.checkout.members import membership_qr_svg, membership_qr_token
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.coupons import mall
from patron.i18n import N_
from patron.members.models import Member
from patron.programs import stored_value
from patron.wallet import apple
from patron.wallet import service as wallet
from patron.web import loyalty
from patron.web.auth import MemberDep
from patron.web.nav import NavItem, Panel
from patron.web.portal.pages import VisitorDep
from patron.web.rendering import flash, formatter_for, render, translate

router = APIRouter(prefix="/portal")
NAV = [
    NavItem("points", N_("Points"), "/portal/points", icon="points", order=5),
    NavItem("coupons", N_("Coupons"), "/portal/coupons", icon="ticket", order=6),
    NavItem("mall", N_("Mall"), "/portal/mall", icon="gift", order=7),
]
PAGE = 20
MALL_REFUSALS = {
    "insufficient_balance": N_("You do not have enough points for this yet."),
    "mall_out_of_stock": N_("Sorry, this is out of stock."),
    "mall_member_limit_reached": N_("You have already redeemed as many of these as allowed."),
    "mall_item_unavailable": N_("This is not available right now."),
}


def _home(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    found = loyalty.wallet(session, merchant_id, member.id)
    return {
        "balances": loyalty.balances(session, merchant_id, member.id),
        "expiring": loyalty.expiring_soon(session, merchant_id, member.id),
        "tier": loyalty.tier_progress(session, merchant_id, member.id),
        "usable_coupons": sum(1 for code, _t in found if code.status == "issued"),
    }


PORTAL_HOME_PANELS = [Panel("loyalty", "portal/loyalty/_home.html", _home, order=10)]


def _qr(member: Member, secret: str) -> Markup:
    # segno writes the SVG from the signed token alone (no member data in it); presentation
    # attributes only, so the strict CSP (no inline styles) holds.
    return Markup(membership_qr_svg(member, secret))


@router.get("/card")
def card(request: Request, session: SessionDep, settings: SettingsDep, who: VisitorDep) -> Response:
    """The membership card to show at the till: the QR code the clerk scans."""
    context = {
        "qr": _qr(who.member, settings.secret_key),
        "tier": loyalty.tier_progress(session, who.merchant_id, who.member.id),
        "balances": loyalty.balances(session, who.merchant_id, who.member.id),
        "apple_wallet": wallet.apple_ready(wallet.settings_of(session, who.merchant_id)),
        "google_wallet": wallet.google_ready(wallet.settings_of(session, who.merchant_id)),
    }
    return render(request, "portal/loyalty/card.html", context)


@router.get("/card/apple.pkpass")
def card_apple(request: Request, settings: SettingsDep, who: MemberDep) -> Response:
    """The card as an Apple Wallet pass (Safari offers to add it). The pass is made on first
    download, hence a write."""
    with transaction(request.app.state.sessions) as session:
        body, _row = wallet.apple_pass(
            session,
            who.merchant_id,
            who.member.id,
            base_url=settings.base_url,
            secret=settings.secret_key,
        )
    headers = {
        "Content-Disposition": 'attachment; filename="membership.pkpass"',
        "Cache-Control": "no-store",
    }
    return Response(body, media_type=apple.MEDIA_TYPE, headers=headers)


@router.get("/card/google")
def card_google(request: Request, settings: SettingsDep, who: MemberDep) -> Response:
    """On to Google Wallet's save page with the card signed into the link."""
    with transaction(request.app.state.sessions) as session:
        link = wallet.google_save_link(
            session,
            who.merchant_id,
            who.member.id,
            base_url=settings.base_url,
            secret=settings.secret_key,
        )
    return RedirectResponse(link, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/card.svg")
def card_svg(settings: SettingsDep, who: MemberDep) -> Response:
    """The QR code alone, as an image for the home page's card."""
    # A standalone document (xmlns, viewBox) so the browser can scale it as an image.
    qr = segno.make(membership_qr_token(who.member, settings.secret_key), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=4, border=2, omitsize=True, xmldecl=False)
    headers = {"Cache-Control": "private, max-age=3600"}
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers=headers)


@router.get("/points")
def points(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Points available and pending, what expires soon, the tier, lots and the history."""
    m, member_id = who.merchant_id, who.member.id
    lines, nxt = loyalty.statement(session, m, member_id, PAGE, cursor)
    context = {
        "balances": loyalty.balances(session, m, member_id),
        "expiring": loyalty.expiring_soon(session, m, member_id),
        "tier": loyalty.tier_progress(session, m, member_id),
        "lots": loyalty.open_lots(session, m, member_id, limit=20),
        "lines": lines,
        "next_cursor": nxt,
        "paged": cursor is not None,
    }
    return render(request, "portal/loyalty/points.html", context)


@router.get("/stored-value")
def stored_value_page(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Stored value: what I paid in, my bonus, and each top-up and payment."""
    m, member_id = who.merchant_id, who.member.id
    lines, nxt = stored_value.statement(session, m, member_id, PAGE, cursor)
    context = {
        "balances": loyalty.balances(session, m, member_id),
        "lines": lines,
        "next_cursor": nxt,
        "paged": cursor is not None,
    }
    return render(request, "portal/loyalty/stored_value.html", context)


@router.get("/coupons")
def coupons_page(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    """My coupons: ready to use first (soonest to expire first), then used and expired ones."""
    found = loyalty.wallet(session, who.merchant_id, who.member.id, limit=100)
    return render(request, "portal/loyalty/coupons.html", {"coupons": found})


@router.get("/mall")
def mall_page(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    """What my points can buy. Each rendered form carries its own key: a double tap redeems
    once."""
    items = mall.list_items(session, who.merchant_id, available_only=True)
    context = {
        "items": items,
        "balances": loyalty.balances(session, who.merchant_id, who.member.id),
        "keys": {item.id: secrets.token_urlsafe(18) for item in items},
    }
    return render(request, "portal/loyalty/mall.html", context)


@router.post("/mall/{item_id}/redeem")
def redeem(
    request: Request,
    item_id: int,
    session: SessionDep,
    who: MemberDep,
    key: Annotated[str, Form(min_length=16, max_length=64)],
) -> Response:
    """Redeem one of an item for points (through the points mall service)."""
    try:
        order, _replayed = mall.redeem(
            session,
            who.merchant_id,
            who.member.id,
            item_id,
            1,
            f"portal:{who.member.id}:{key}",
            f"member:{who.member.id}",
        )
    except PatronError as exc:
        if exc.status_code == 404:
            raise
        refusal = MALL_REFUSALS.get(exc.code)
        text = translate(request, refusal) if refusal else exc.message
        flash(request, text, "error")
        return RedirectResponse("/portal/mall", status_code=303)
    flash(
        request,
        translate(
            request,
            "Redeemed for %(points)s points.",
            points=formatter_for(request).number(order.points),
        ),
    )
    target = "/portal/coupons" if order.coupon_code_id else "/portal/points"
    return RedirectResponse(target, status_code=303)
