"""Reviews and after-sales cases in the dashboard (ADR 1500–1503).

Every staff role reads reviews and cases, replies, writes notes, opens cases and changes their
status; hiding a review and compensating a member (refund, points, stored value, coupon) need a
manager or the owner, like a balance adjustment."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound, PatronError
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.coupons.models import CouponTemplate
from patron.engagement.models import Message
from patron.i18n import N_
from patron.ledger.service import Asset
from patron.members import service as members
from patron.members.models import Member
from patron.orders import service as orders
from patron.orders.models import Order
from patron.tenancy.models import StaffUser
from patron.voice import cases, reviews
from patron.voice.hours import save_settings, service_settings
from patron.voice.models import CaseStatus, Review, ServiceCase
from patron.voice.storage import storage_for
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.dashboard.program_fields import Unreadable, read_value
from patron.web.dashboard.program_forms import Field
from patron.web.nav import NavItem, Panel
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem("reviews", N_("Reviews"), "/reviews", icon="note", order=35),
    NavItem("cases", N_("After-sales"), "/cases", icon="note", order=36),
]
PAGE = 25
REFUSALS = {
    "invalid_text": N_("Write 1 to 4000 characters."),
    "invalid_reply": N_("Write 1 to 2000 characters."),
    "reason_required": N_("Say why."),
    "invalid_amount": N_("Enter an amount above zero."),
    "invalid_refund": N_("Choose the lines and quantities to refund."),
    "refund_exceeds_remaining": N_("That is more than is left to refund."),
    "coupon_issue_limit_reached": N_("This coupon has no more codes to give."),
    "coupon_member_limit_reached": N_(
        "The member already holds as many of this coupon as allowed."
    ),
    "coupon_not_active": N_("This coupon cannot be given now."),
    "invalid_case": N_("Choose a kind and a subject."),
}


def _refused(request: Request, session: Session, exc: PatronError) -> None:
    """A refused form changes nothing (ADR 0850) and says why in the staff member's words."""
    session.rollback()
    text = REFUSALS.get(exc.code)
    flash(
        request,
        translate(
            request,
            "Not saved: %(reason)s",
            reason=translate(request, text) if text else exc.message,
        ),
        "error",
    )


# --- reviews ------------------------------------------------------------------------------


@router.get("/reviews")
def review_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    product: Annotated[str, Query(max_length=80)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    rows = reviews.list_reviews(
        session, staff.merchant_id, rating=rating, sku=product or None, limit=PAGE, cursor=cursor
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    people = {
        m.id: m
        for m in session.scalars(select(Member).where(Member.id.in_({r.member_id for r in rows})))
    }
    products = sorted(
        {
            (sku, name)
            for sku, name in session.execute(
                select(Review.sku, Review.product_name)
                .where(Review.merchant_id == staff.merchant_id, Review.sku.is_not(None))
                .distinct()
                .limit(200)
            )
        },
        key=lambda p: p[1],
    )
    context = {
        "rows": rows,
        "people": people,
        "photos": reviews.photos_of(session, staff.merchant_id, [r.id for r in rows]),
        "rating": rating,
        "product": product,
        "products": products,
        "next_cursor": rows[-1].id if more and rows else None,
    }
    return render(request, "dashboard/voice/reviews.html", context)


@router.get("/reviews/photos/{photo_id}")
def review_photo(
    photo_id: PathId, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    photo = reviews.get_photo(session, staff.merchant_id, photo_id)
    data = storage_for(settings.media_dir).get(photo.storage_key)
    if data is None:
        raise NotFound("photo not found", code="photo_not_found")
    return Response(
        data, media_type=photo.content_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post("/reviews/{review_id}/reply")
def review_reply(
    request: Request,
    review_id: PathId,
    session: SessionDep,
    staff: StaffDep,
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    try:
        reviews.reply(session, staff.merchant_id, review_id, body, staff.actor)
        flash(request, translate(request, "Reply published."))
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/reviews#review-{review_id}", status_code=303)


@router.post("/reviews/{review_id}/hide")
def review_hide(
    request: Request,
    review_id: PathId,
    session: SessionDep,
    staff: ManagerPageDep,
    reason: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        reviews.hide(session, staff.merchant_id, review_id, reason, staff.actor)
        flash(request, translate(request, "Review hidden."))
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/reviews#review-{review_id}", status_code=303)


@router.post("/reviews/{review_id}/show")
def review_show(
    request: Request, review_id: PathId, session: SessionDep, staff: ManagerPageDep
) -> Response:
    reviews.unhide(session, staff.merchant_id, review_id, staff.actor)
    flash(request, translate(request, "Review shown again."))
    return RedirectResponse(f"/reviews#review-{review_id}", status_code=303)


# --- cases --------------------------------------------------------------------------------


def _timers(session: Session, rows: list[ServiceCase]) -> dict[int, cases.Timers]:
    return {c.id: cases.timers(session, c) for c in rows}


@router.get("/cases")
def case_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    status = status if status in cases.STATUSES else ""
    rows = cases.list_cases(
        session, staff.merchant_id, status=status or None, limit=PAGE, cursor=cursor
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    people = {
        m.id: m
        for m in session.scalars(select(Member).where(Member.id.in_({c.member_id for c in rows})))
    }
    context = {
        "rows": rows,
        "people": people,
        "timers": _timers(session, rows),
        "status": status,
        "statuses": cases.STATUSES,
        "next_cursor": rows[-1].id if more and rows else None,
    }
    return render(request, "dashboard/voice/cases.html", context)


@router.get("/cases/new")
def case_new(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    member: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Staff open a case from a member's page (without a member: choose one first)."""
    if member is None:
        return RedirectResponse("/members", status_code=303)
    person = members.get_member(session, staff.merchant_id, member)
    recent = orders.member_orders(session, staff.merchant_id, person.id, limit=10)[:10]
    context = {
        "m": person,
        "orders": recent,
        "lines": orders.order_lines(session, [o.id for o in recent]),
        "kinds": cases.KINDS,
        "priorities": cases.PRIORITIES,
    }
    return render(request, "dashboard/voice/case_new.html", context)


@router.post("/cases")
def case_open(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    member_id: Annotated[int, Form(ge=1)],
    kind: Annotated[str, Form(max_length=16)],
    subject: Annotated[str, Form(max_length=200)],
    body: Annotated[str, Form(max_length=4000)] = "",
    order_id: Annotated[str, Form(max_length=20)] = "",
    line_ids: Annotated[list[int] | None, Form()] = None,
    priority: Annotated[str, Form(max_length=8)] = "normal",
    phone: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Staff open a case for a member; ``phone`` logs that it came in by a phone call."""
    members.get_member(session, staff.merchant_id, member_id)
    try:
        case = cases.open_case(
            session,
            staff.merchant_id,
            member_id,
            kind=kind,
            subject=subject,
            body=body,
            order_id=int(order_id) if order_id.isdigit() else None,
            line_ids=line_ids or [],
            source="phone" if phone == "true" else "staff",
            actor=staff.actor,
            priority=priority,
        )
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
        return RedirectResponse(f"/cases/new?member={member_id}", status_code=303)
    flash(request, translate(request, "Case opened."))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


def _history(session: Session, merchant_id: int, case: ServiceCase) -> dict[str, Any]:
    recent = orders.member_orders(session, merchant_id, case.member_id, limit=10)[:10]
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.merchant_id == merchant_id, Message.member_id == case.member_id)
            .order_by(Message.id.desc())
            .limit(10)
        )
    )
    earlier = [
        c
        for c in cases.list_cases(session, merchant_id, member_id=case.member_id, limit=20)
        if c.id != case.id
    ]
    return {"orders": recent, "messages": messages, "earlier": earlier[:20]}


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: PathId, session: SessionDep, staff: StaffDep) -> Response:
    case = cases.get_case(session, staff.merchant_id, case_id)
    member = members.get_member(session, staff.merchant_id, case.member_id)
    order = session.get(Order, case.order_id) if case.order_id else None
    lines = orders.order_lines(session, [order.id]).get(order.id, []) if order else []
    staff_users = list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.merchant_id == staff.merchant_id)
            .order_by(StaffUser.name)
        )
    )
    context = {
        "case": case,
        "m": member,
        "order": order,
        "lines": lines,
        "case_lines": [line for line in lines if line.id in case.line_ids],
        "events": cases.timeline(session, case),
        "timers": cases.timers(session, case),
        "history": _history(session, staff.merchant_id, case),
        "staff_users": staff_users,
        "assignees": {u.id: u.name for u in staff_users},
        "actors": {f"staff:{u.id}": u.name for u in staff_users}
        | {f"member:{member.id}": member.display_name},
        "templates": list(
            session.scalars(
                select(CouponTemplate)
                .where(
                    CouponTemplate.merchant_id == staff.merchant_id,
                    CouponTemplate.status == "active",
                )
                .order_by(CouponTemplate.name)
                .limit(100)
            )
        ),
        "review": session.get(Review, case.review_id) if case.review_id else None,
        "statuses": cases.STATUSES,
        "priorities": cases.PRIORITIES,
        "key": secrets.token_urlsafe(18),
        "manager": staff.role.rank >= 2,
    }
    return render(request, "dashboard/voice/case.html", context)


def _back(case_id: int, anchor: str = "timeline") -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}#{anchor}", status_code=303)


@router.post("/cases/{case_id}/note")
def case_note(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    staff: StaffDep,
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    case = cases.get_case(session, staff.merchant_id, case_id)
    try:
        cases.add_note(session, case, body, staff.actor)
        flash(request, translate(request, "Note added."))
    except PatronError as exc:
        _refused(request, session, exc)
    return _back(case_id)


@router.post("/cases/{case_id}/reply")
def case_reply(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    staff: StaffDep,
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    case = cases.get_case(session, staff.merchant_id, case_id)
    try:
        cases.reply(session, case, body, staff.actor)
        flash(request, translate(request, "Reply sent to the member."))
    except PatronError as exc:
        _refused(request, session, exc)
    return _back(case_id)


@router.post("/cases/{case_id}/update")
def case_update(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Form(max_length=16)],
    priority: Annotated[str, Form(max_length=8)],
    assignee: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    case = cases.get_case(session, staff.merchant_id, case_id)
    try:
        cases.update(
            session,
            case,
            staff.actor,
            status=status,
            priority=priority,
            assignee_id=int(assignee) if assignee.isdigit() else None,
            unassign=not assignee.isdigit(),
        )
        flash(request, translate(request, "Case updated."))
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
    return _back(case_id)


def _money(text: str, currency: str) -> int:
    value = read_value(Field("amount", "", "money"), text, int(get_currency_precision(currency)))
    if not isinstance(value, int) or value <= 0:
        raise Unreadable(REFUSALS["invalid_amount"])
    return value


@router.post("/cases/{case_id}/compensate")
def case_compensate(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    staff: ManagerPageDep,
    action: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=300)],
    key: Annotated[str, Form(min_length=16, max_length=64)],
    amount: Annotated[str, Form(max_length=32)] = "",
    template_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """A manager's resolution action: points, stored value or a coupon, with a reason; the
    same form sent twice acts once (its ``key``)."""
    case = cases.get_case(session, staff.merchant_id, case_id)
    try:
        if action == "points":
            points = int(amount) if amount.strip().isdigit() else 0
            cases.give_balance(session, case, Asset.POINTS, points, reason, staff.actor, key)
        elif action == "stored_value":
            cases.give_balance(
                session,
                case,
                Asset.STORED_BONUS,
                _money(amount, staff.merchant.currency),
                reason,
                staff.actor,
                key,
            )
        elif action == "coupon" and template_id.isdigit():
            cases.give_coupon(session, case, int(template_id), reason, staff.actor, key)
        else:
            raise NotFound("unknown action", code="invalid_action")
    except Unreadable as exc:
        session.rollback()
        flash(
            request,
            translate(request, "Not saved: %(reason)s", reason=translate(request, exc.args[0])),
            "error",
        )
        return _back(case_id, "actions")
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
        return _back(case_id, "actions")
    flash(request, translate(request, "Done, and recorded on the case."))
    return _back(case_id)


@router.post("/cases/{case_id}/refund")
async def case_refund(
    request: Request, case_id: PathId, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """A manager refunds quantities of the case's order lines (``qty-<line id>`` fields)."""
    form = await request.form()
    reason = str(form.get("reason", ""))[:300]
    key = str(form.get("key", ""))[:64]
    case = cases.get_case(session, staff.merchant_id, case_id)
    quantities: dict[int, int] = {}
    for name, value in form.items():
        if name.startswith("qty-") and name[4:].isdigit() and str(value).strip():
            text = str(value).strip()
            quantities[int(name[4:])] = int(text) if text.isdigit() else -1
    try:
        cases.refund(session, case, quantities, reason, staff.actor, key)
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
        return _back(case_id, "actions")
    flash(request, translate(request, "Refund recorded on the case."))
    return _back(case_id)


def _member_panel(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    return {
        "reviews": reviews.list_reviews(session, merchant_id, member_id=member.id, limit=10)[:10],
        "cases": cases.list_cases(session, merchant_id, member_id=member.id, limit=10)[:10],
        "open": CaseStatus.OPEN.value,
    }


MEMBER_PANELS = [Panel("voice", "dashboard/voice/_member.html", _member_panel, order=50)]


# --- settings -----------------------------------------------------------------------------

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


@router.get("/service-settings")
def settings_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Business hours (the timers count them, in the shop's timezone), targets, the rating that
    opens a case, and the photo limits. Managers and owners change them."""
    context = {
        "conf": service_settings(session, staff.merchant_id),
        "weekdays": list(enumerate(WEEKDAYS)),
        "manager": staff.role.rank >= 2,
    }
    return render(request, "dashboard/voice/settings.html", context)


@router.post("/service-settings")
async def settings_save(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    form = await request.form()

    def number(name: str) -> int:
        text = str(form.get(name, "")).strip()
        return int(text) if text.isdigit() else -1

    hours: dict[str, list[str] | None] = {}
    for day in range(7):
        opens, closes = str(form.get(f"open-{day}", "")), str(form.get(f"close-{day}", ""))
        hours[str(day)] = [opens, closes] if opens and closes else None
    changes = {
        "hours": hours,
        "first_response_minutes": number("first_response_minutes"),
        "resolution_minutes": number("resolution_minutes"),
        "low_rating": number("low_rating"),
        "max_photos": number("max_photos"),
        "max_photo_bytes": number("max_photo_mb") * 1024 * 1024,
    }
    try:
        save_settings(session, staff.merchant_id, changes)
    except PatronError:
        session.rollback()
        flash(request, translate(request, "Not saved: check the hours and the numbers."), "error")
        return RedirectResponse("/service-settings", status_code=303)
    flash(request, translate(request, "Settings saved."))
    return RedirectResponse("/service-settings", status_code=303)
