"""The member portal: sign-in by link, home, my orders, my profile and preferences."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_
from patron.members import lunar
from patron.members import service as members
from patron.members.models import ConsentChannel, Member
from patron.members.schemas import ConsentIn, MemberUpdate, Preferences
from patron.orders import service as orders
from patron.orders.models import Order, OrderLine, Product
from patron.portal import service as portal
from patron.rewards import actions
from patron.voice.reviews import line_reviews
from patron.web.auth import MemberContext, current_member, sign_out
from patron.web.nav import NavItem, Shell
from patron.web.portal import lunar_fields
from patron.web.rendering import flash, remember_language, render, translate
from patron.web.security import PORTAL_SESSION_SECONDS, ensure_csrf_token

log = logging.getLogger("patron.web.portal")
router = APIRouter(prefix="/portal")
NAV = [
    NavItem("home", N_("Home"), "/portal", icon="home", order=0),
    NavItem("orders", N_("Orders"), "/portal/orders", icon="bag", order=10),
    NavItem("profile", N_("Profile"), "/portal/profile", icon="user", order=90),
]
ORDERS_PER_PAGE = 10


def visiting_member(request: Request, session: SessionDep) -> MemberContext:
    """The signed-in member; each page view (GET) also counts the member as active today.

    The visit is written in its own short transaction: page views read in a read-only session,
    and a lost visit row must never cost the member their page. Form posts (which hold the
    write lock on SQLite) are not page views and record nothing."""
    who = current_member(request, session)
    if request.method != "GET":
        return who
    try:
        with transaction(request.app.state.sessions) as writer:
            portal.record_visit(writer, who.merchant_id, who.member.id)
    except SQLAlchemyError:
        log.warning("portal visit not recorded", exc_info=True)
    return who


VisitorDep = Annotated[MemberContext, Depends(visiting_member)]


@router.get("/signin/{token}")
def signin_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """Check the link and ask for one tap. Mail scanners fetch links with GET; using the link
    up only on the POST keeps a scanner from spending the member's single use."""
    request.state.area = "portal"
    try:
        portal.check_portal_link(session, token, settings=settings)
    except PatronError as exc:
        return _link_refused(request, exc)
    return render(request, "portal/signin.html", {"token": token})


@router.post("/signin/{token}")
def signin(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    request.state.area = "portal"
    try:
        link = portal.redeem_portal_link(session, token, settings=settings)
    except PatronError as exc:
        return _link_refused(request, exc)
    sid = portal.start_portal_session(session, link, PORTAL_SESSION_SECONDS)
    data = request.scope["session"]
    locale = data.get("locale")
    data.clear()
    data.update({"member_id": link.member_id, "merchant_id": link.merchant_id, "sid": sid})
    if locale:
        data["locale"] = locale
    ensure_csrf_token(data)
    return RedirectResponse("/portal", status_code=303)


def _link_refused(request: Request, exc: PatronError) -> Response:
    reasons = {
        "portal_link_used": N_("This sign-in link has already been used."),
        "portal_link_expired": N_("This sign-in link has expired."),
    }
    text = reasons.get(exc.code, N_("This sign-in link is not valid."))
    return render(request, "portal/link_refused.html", {"reason": text}, status=exc.status_code)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    request.state.area = "portal"
    sign_out(request, session, portal.end_portal_session)
    return render(request, "portal/signed_out.html", {"signed_out": True})


@router.post("/language")
def language(
    request: Request,
    locale: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=2000)] = "/portal",
) -> RedirectResponse:
    target = next if next.startswith("/portal") else "/portal"
    return remember_language(request, locale, target, "/portal")


def _home_panels(request: Request, session: Session, who: MemberContext) -> list[Any]:
    shells: dict[str, Shell] = request.app.state.web_shells
    return [
        (panel.template, panel.load(session, who.merchant_id, who.member))
        for panel in shells["portal"].home_panels
    ]


@router.get("")
def home(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    recent = orders.member_orders(session, who.merchant_id, who.member.id, limit=3)[:3]
    context = {"recent": recent, "panels": _home_panels(request, session, who)}
    return render(request, "portal/home.html", context)


@router.get("/orders")
def my_orders(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    found = orders.member_orders(
        session, who.merchant_id, who.member.id, limit=ORDERS_PER_PAGE, cursor=cursor
    )
    more = len(found) > ORDERS_PER_PAGE
    found = found[:ORDERS_PER_PAGE]
    lines = orders.order_lines(session, [o.id for o in found])
    context = {
        "orders": found,
        "lines": lines,
        "reviewed": line_reviews(
            session, who.merchant_id, [line.id for group in lines.values() for line in group]
        ),
        "next_cursor": found[-1].id if more and found else None,
        "paged": cursor is not None,
    }
    return render(request, "portal/orders.html", context)


def shop_categories(session: Session, merchant_id: int) -> set[str]:
    """The catalogue's categories (at most 40), for a member to say what they like."""
    catalogue = (
        select(Product.category)
        .where(Product.merchant_id == merchant_id, Product.category.is_not(None))
        .distinct()
        .limit(40)
    )
    return {c for c in session.scalars(catalogue) if c}


def _offered_categories(session: Session, merchant_id: int, member_id: int) -> set[str]:
    """Categories to choose from: the catalogue's, and those the member has bought."""
    bought = (
        select(OrderLine.category)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.merchant_id == merchant_id,
            Order.member_id == member_id,
            OrderLine.category.is_not(None),
        )
        .distinct()
        .limit(40)
    )
    return shop_categories(session, merchant_id) | {c for c in session.scalars(bought) if c}


@router.get("/profile")
def profile(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    member = who.member
    current = {c.channel: c for c in members.consents(session, who.merchant_id, member.id)}
    prefs = member.preferences or {}
    liked = set(prefs.get("categories", []))
    context = {
        "categories": sorted(_offered_categories(session, who.merchant_id, member.id) | liked),
        "liked": liked,
        "styles": ", ".join(prefs.get("styles", [])),
        "colours": ", ".join(prefs.get("colours", [])),
        "consents": [(channel.value, current.get(channel.value)) for channel in ConsentChannel],
    }
    moon = lunar.lunar_of(session, who.merchant_id, member.id)
    context["lunar"] = lunar_fields.choices(request)
    context["lunar_shown"] = lunar_fields.shown(request, moon)
    context["lunar_form"] = {
        "lunar_month": moon.month if moon else "",
        "lunar_day": moon.day if moon else "",
        "lunar_leap": "on" if moon and moon.leap else "",
    }
    return render(request, "portal/profile.html", context)


@router.post("/profile/lunar-birthday")
def save_lunar_birthday(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    lunar_month: Annotated[str, Form(max_length=2)] = "",
    lunar_day: Annotated[str, Form(max_length=2)] = "",
    lunar_leap: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Set or clear the birthday celebrated by the lunar calendar (both fields blank: clear)."""
    try:
        moon = lunar_fields.read(lunar_month, lunar_day, lunar_leap)
    except PatronError:
        flash(
            request,
            translate(request, "Choose both the lunar month and the day of your birthday."),
            "error",
        )
        return RedirectResponse("/portal/profile#lunar-birthday", status_code=303)
    lunar.set_lunar_birthday(session, who.merchant_id, who.member.id, moon)
    if moon is not None:
        # A lunar birthday is a birthday given (rewarded once per member, whichever form).
        actions.record_known_action(session, who.merchant_id, who.member.id, "birthday_given")
    flash(request, translate(request, "Your birthday is saved."))
    return RedirectResponse("/portal/profile#lunar-birthday", status_code=303)


def _split(text: str) -> list[str]:
    parts = text.replace("，", ",").replace("、", ",").split(",")
    return list(dict.fromkeys(p.strip()[:60] for p in parts if p.strip()))[:50]


@router.post("/profile/name")
def save_name(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """The member corrects their own name (a given name is required; contact details are not
    changed here: they sign the member in)."""
    given, family = first_name.strip(), last_name.strip()
    if not given:
        flash(request, translate(request, "Please give your name."), "error")
        return RedirectResponse("/portal/profile", status_code=303)
    member = members.update_member(
        session,
        who.merchant_id,
        who.member.id,
        MemberUpdate(first_name=given, last_name=family or None),
    )
    _profile_completed(session, who.merchant_id, member)
    flash(request, translate(request, "Your name is saved."))
    return RedirectResponse("/portal/profile", status_code=303)


@router.post("/profile/preferences")
def save_preferences(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    categories: Annotated[list[str] | None, Form()] = None,
    styles: Annotated[str, Form(max_length=2000)] = "",
    colours: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The member's liked categories, styles and colours (used to target offers they'd like)."""
    chosen = list(dict.fromkeys(c.strip()[:120] for c in categories or [] if c.strip()))[:50]
    prefs = Preferences(categories=chosen, styles=_split(styles), colours=_split(colours))
    member = members.update_member(
        session, who.merchant_id, who.member.id, MemberUpdate(preferences=prefs)
    )
    _profile_completed(session, who.merchant_id, member)
    flash(request, translate(request, "Your preferences are saved."))
    return RedirectResponse("/portal/profile", status_code=303)


def profile_is_complete(member: Member) -> bool:
    """A name, a way to reach the member, a birthday and at least one liked thing."""
    prefs = member.preferences or {}
    liked = any(prefs.get(k) for k in ("categories", "styles", "colours"))
    return bool(member.first_name and (member.phone or member.email) and member.birthday and liked)


def _profile_completed(session: Session, merchant_id: int, member: Member) -> None:
    """Patron knows when a profile becomes complete: the merchant's ``profile_completed``
    action, if it rewards one (once per member, ADR 1321)."""
    if profile_is_complete(member):
        actions.record_known_action(session, merchant_id, member.id, "profile_completed")


@router.post("/profile/birthday")
def save_birthday(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    birthday: Annotated[str, Form(max_length=10)],
) -> Response:
    """The member gives their birthday, once (a change afterwards goes through the shop: the
    birthday gift depends on it). Rewards ``birthday_given`` if the merchant does."""
    today = utcnow(session).date()
    try:
        day: date | None = date.fromisoformat(birthday)
    except ValueError:
        day = None
    if day is None or not date(1900, 1, 1) <= day <= today:
        flash(request, translate(request, "Please give a real date of birth."), "error")
        return RedirectResponse("/portal/profile", status_code=303)
    if who.member.birthday is not None:
        flash(request, translate(request, "Your birthday is already on record."), "error")
        return RedirectResponse("/portal/profile", status_code=303)
    member = members.update_member(
        session, who.merchant_id, who.member.id, MemberUpdate(birthday=day)
    )
    actions.record_known_action(session, who.merchant_id, member.id, "birthday_given")
    _profile_completed(session, who.merchant_id, member)
    flash(request, translate(request, "Your birthday is saved."))
    return RedirectResponse("/portal/profile", status_code=303)


@router.post("/profile/consents")
def save_consent(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    channel: Annotated[str, Form(max_length=16)],
    granted: Annotated[str, Form(max_length=5)],
) -> Response:
    """The member turns messages on one channel on or off; effective at once."""
    try:
        consent = ConsentIn(
            channel=channel,
            granted=granted == "true",
            source="portal",
        )
    except ValueError as exc:
        raise NotFound("unknown channel", code="invalid_channel") from exc
    members.set_consent(session, who.merchant_id, who.member.id, consent)
    flash(request, translate(request, "Your message settings are saved."))
    return RedirectResponse("/portal/profile#consent", status_code=303)
