"""Members in the dashboard: the list with search and filters, and the member's page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_
from patron.members import service as members
from patron.members.language import language_of
from patron.members.models import ConsentChannel, FunnelStage, Member, MemberTag
from patron.members.schemas import ConsentIn
from patron.orders import service as orders
from patron.portal import service as portal
from patron.tenancy.models import Store
from patron.web.auth import StaffContext, StaffDep
from patron.web.nav import NavItem, Shell
from patron.web.order_card import order_cards
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("members", N_("Members"), "/members", icon="users", order=10)]

PAGE_SIZE = 25
ORDERS_PER_PAGE = 10
NOTE_CHANNELS = ("in_store", "phone", "wechat", "whatsapp", "email", "sms", "other")
STAGES = [stage.value for stage in FunnelStage]


def _popular_tags(session: Session, merchant_id: int, limit: int = 60) -> list[str]:
    rows = session.execute(
        select(MemberTag.tag, func.count())
        .where(MemberTag.merchant_id == merchant_id)
        .group_by(MemberTag.tag)
        .order_by(func.count().desc(), MemberTag.tag)
        .limit(limit)
    ).all()
    return [tag for tag, _count in rows]


@router.get("/members")
def member_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    q: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=80)] = "",
    stage: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Search by phone, email, name, tag or external id; filter by funnel stage and tag."""
    stage = stage if stage in STAGES else ""
    rows = members.search_members(
        session,
        staff.merchant_id,
        q=q or None,
        tag=tag or None,
        stage=stage or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "q": q,
        "tag": tag,
        "stage": stage,
        "stages": STAGES,
        "tags": _popular_tags(session, staff.merchant_id),
        "next_cursor": rows[-1].id if more and rows else None,
        "paged": cursor is not None,
    }
    return render(request, "dashboard/members/list.html", context)


def _order_history(
    session: Session, staff: StaffContext, member_id: int, cursor: int | None
) -> dict[str, Any]:
    found = orders.member_orders(
        session, staff.merchant_id, member_id, limit=ORDERS_PER_PAGE, cursor=cursor
    )
    more = len(found) > ORDERS_PER_PAGE
    found = found[:ORDERS_PER_PAGE]
    ids = [order.id for order in found]
    lines = orders.order_lines(session, ids)
    stores = {
        store.id: store
        for store in session.scalars(select(Store).where(Store.merchant_id == staff.merchant_id))
    }
    return {
        "orders": found,
        "lines": lines,
        "cards": order_cards(session, staff.merchant_id, found, lines),
        "refunds": orders.order_refunds(session, ids),
        "stores": stores,
        "orders_next_cursor": found[-1].id if more and found else None,
        "orders_paged": cursor is not None,
    }


def _panels(request: Request, session: Session, staff: StaffContext, member: Member) -> list[Any]:
    shells: dict[str, Shell] = request.app.state.web_shells
    return [
        (panel.template, panel.load(session, staff.merchant_id, member))
        for panel in shells["dashboard"].member_panels
    ]


@router.get("/members/{member_id}")
def member_detail(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    orders_cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Everything about one member: profile, identities, tags, notes, consent, orders, funnel."""
    member = members.get_member(session, staff.merchant_id, member_id)
    current = {c.channel: c for c in members.consents(session, staff.merchant_id, member_id)}
    context: dict[str, Any] = {
        "m": member,
        "language": language_of(session, member),
        "identities": members.member_identities(session, staff.merchant_id, member_id),
        "tags": members.member_tags(session, staff.merchant_id, member_id),
        "notes": members.member_notes(session, staff.merchant_id, member_id),
        "consents": [(channel.value, current.get(channel.value)) for channel in ConsentChannel],
        "funnel": members.funnel_history(session, staff.merchant_id, member_id),
        "home_store": session.get(Store, member.home_store_id) if member.home_store_id else None,
        "note_channels": NOTE_CHANNELS,
        "panels": _panels(request, session, staff, member),
        "portal_link": request.scope["session"].pop("portal_link", None),
    }
    context.update(_order_history(session, staff, member_id, orders_cursor))
    return render(request, "dashboard/members/detail.html", context)


def _back(member_id: int, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/members/{member_id}#{anchor}", status_code=303)


def _refused(request: Request, exc: PatronError) -> None:
    """A business refusal (empty note, bad tag…) is shown on the page; other errors propagate."""
    if isinstance(exc, NotFound):
        raise exc
    flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")


@router.post("/members/{member_id}/notes")
def add_note(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    body: Annotated[str, Form(max_length=10_000)] = "",
    channel: Annotated[str, Form(max_length=32)] = "in_store",
) -> Response:
    try:
        if channel not in NOTE_CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}", code="invalid_channel")
        members.add_note(
            session, staff.merchant_id, member_id, body, channel, staff.user.id, staff.user.name
        )
        flash(request, translate(request, "Note added."))
    except PatronError as exc:
        _refused(request, exc)
    return _back(member_id, "notes")


@router.post("/members/{member_id}/tags")
def add_tags(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    tags: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    wanted = [t.strip() for t in tags.replace("，", ",").split(",") if t.strip()]
    try:
        members.add_tags(session, staff.merchant_id, member_id, wanted)
    except PatronError as exc:
        _refused(request, exc)
    return _back(member_id, "tags")


@router.post("/members/{member_id}/tags/remove")
def remove_tag(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    tag: Annotated[str, Form(max_length=80)],
) -> Response:
    members.remove_tag(session, staff.merchant_id, member_id, tag)
    return _back(member_id, "tags")


@router.post("/members/{member_id}/consents")
def set_consent(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    channel: Annotated[str, Form(max_length=16)],
    granted: Annotated[str, Form(max_length=5)],
) -> Response:
    """Staff record consent the member gave (or withdrew) in person or on the phone."""
    try:
        consent = ConsentIn(
            channel=channel,
            granted=granted == "true",
            source=f"dashboard:{staff.actor}",
        )
        members.set_consent(session, staff.merchant_id, member_id, consent)
    except (PatronError, ValueError):
        flash(request, translate(request, "Not saved: %(reason)s", reason=channel), "error")
    return _back(member_id, "consent")


@router.post("/members/{member_id}/portal-link")
def portal_link(
    request: Request, member_id: int, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    """A sign-in link a clerk can hand to the member (shown once on the member's page)."""
    issued = portal.create_portal_link(session, staff.merchant_id, member_id, settings=settings)
    request.scope["session"]["portal_link"] = {
        "url": issued.url,
        "expires_at": issued.expires_at.isoformat(),
    }
    return _back(member_id, "portal")
