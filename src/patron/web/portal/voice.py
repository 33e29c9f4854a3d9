"""The member's reviews and after-sales cases in the portal (ADR 1500–1503).

A member reviews the lines of their own orders (stars, words, photos), opens a case about an
order, follows it, writes to it and, once it is closed, says how satisfied they are. Another
member's (or another shop's) review, photo or case answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.i18n import N_
from patron.orders import service as orders
from patron.orders.models import Order, OrderLine
from patron.voice import cases, reviews
from patron.voice.hours import service_settings
from patron.voice.models import Review
from patron.voice.storage import storage_for
from patron.web.nav import NavItem
from patron.web.portal.pages import VisitorDep
from patron.web.rendering import flash, render, translate

router = APIRouter(prefix="/portal")
NAV = [
    NavItem("reviews", N_("Reviews"), "/portal/reviews", icon="note", order=20),
    NavItem("cases", N_("After-sales"), "/portal/cases", icon="note", order=25),
]
SORRY = N_("Thank you. We are sorry it disappointed you: we opened a case and will be in touch.")
REFUSALS = {
    "photo_type": N_("Photos must be JPEG, PNG or WebP pictures."),
    "photo_too_large": N_("A photo is too large."),
    "photo_name": N_("A photo's file name is not acceptable."),
    "too_many_photos": N_("Too many photos."),
    "invalid_rating": N_("Choose 1 to 5 stars."),
    "review_too_long": N_("A review is at most 2000 characters."),
    "already_reviewed": N_("You already reviewed this purchase."),
    "line_refunded": N_("A refunded purchase cannot be reviewed."),
    "invalid_text": N_("Write 1 to 4000 characters."),
    "invalid_case": N_("Choose what it is about and give it a subject."),
    "invalid_score": N_("Choose 1 to 5 stars."),
    "already_answered": N_("You already answered, thank you."),
    "case_not_closed": N_("You can rate us once the case is closed."),
    "case_closed": N_("This case is closed."),
}


def _refused(request: Request, session: Session, exc: PatronError) -> None:
    session.rollback()
    text = REFUSALS.get(exc.code, N_("That did not work. Please check and try again."))
    flash(request, translate(request, text), "error")


def _hostile(name: str | None) -> bool:
    """A file name that tries to say where to put the file (the name is never used, and such
    an upload is refused outright)."""
    if not name:
        return False
    return any(c in name for c in "/\\\x00") or name.startswith(".") or ".." in name


async def _read_photos(files: list[UploadFile], limit: int, count: int) -> list[bytes]:
    chosen = [f for f in files if f.filename or f.size]
    if len(chosen) > count:
        raise InvalidInput("too many photos", code="too_many_photos")
    out = []
    for f in chosen:
        if _hostile(f.filename):
            raise InvalidInput("file name refused", code="photo_name")
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput("the photo is too large", code="photo_too_large")
        if data:
            out.append(data)
    return out


def _my_lines(session: Session, merchant_id: int, member_id: int) -> list[tuple[Order, OrderLine]]:
    recent = orders.member_orders(session, merchant_id, member_id, limit=20)[:20]
    by_order = orders.order_lines(session, [o.id for o in recent])
    return [(o, line) for o in recent for line in by_order.get(o.id, [])]


@router.get("/reviews")
def my_reviews(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    mine = reviews.list_reviews(session, who.merchant_id, member_id=who.member.id, limit=50)[:50]
    done = {r.order_line_id for r in mine}
    pending = [
        (o, line)
        for o, line in _my_lines(session, who.merchant_id, who.member.id)
        if line.id not in done and reviews.can_review(o, line)
    ]
    context = {
        "mine": mine,
        "pending": pending,
        "photos": reviews.photos_of(session, who.merchant_id, [r.id for r in mine]),
    }
    return render(request, "portal/voice/reviews.html", context)


@router.get("/reviews/new")
def review_form(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    line: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    if line is None:  # which purchase: chosen on the reviews page
        return RedirectResponse("/portal/reviews", status_code=303)
    order, order_line = reviews.reviewable_line(session, who.merchant_id, who.member.id, line)
    conf = service_settings(session, who.merchant_id)
    context = {"order": order, "line": order_line, "max_photos": conf["max_photos"]}
    return render(request, "portal/voice/review_new.html", context)


@router.post("/reviews")
async def review_write(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: VisitorDep,
    line: Annotated[int, Form(ge=1)],
    rating: Annotated[int, Form()],
    body: Annotated[str, Form(max_length=4000)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    conf = service_settings(session, who.merchant_id)
    try:
        reviews.reviewable_line(session, who.merchant_id, who.member.id, line)
        data = await _read_photos(photos or [], conf["max_photo_bytes"], conf["max_photos"])
        done = reviews.write_review(
            session,
            who.merchant_id,
            who.member.id,
            line,
            rating,
            body,
            data,
            storage_for(settings.media_dir),
        )
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
        return RedirectResponse(f"/portal/reviews/new?line={line}", status_code=303)
    if done.case_id is not None:
        flash(
            request,
            translate(request, SORRY),
        )
        return RedirectResponse(f"/portal/cases/{done.case_id}", status_code=303)
    flash(request, translate(request, "Thank you for your review."))
    return RedirectResponse("/portal/reviews", status_code=303)


@router.get("/reviews/photos/{photo_id}")
def review_photo(
    photo_id: PathId, session: SessionDep, settings: SettingsDep, who: VisitorDep
) -> Response:
    """A photo of a review shown in the portal: the member's own, or a visible one of the shop."""
    photo = reviews.get_photo(session, who.merchant_id, photo_id)
    review = session.get(Review, photo.review_id)
    if review is None or (review.hidden_at is not None and review.member_id != who.member.id):
        raise NotFound("photo not found", code="photo_not_found")
    data = storage_for(settings.media_dir).get(photo.storage_key)
    if data is None:
        raise NotFound("photo not found", code="photo_not_found")
    return Response(
        data, media_type=photo.content_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/products/{sku}/reviews")
def product_reviews(request: Request, sku: str, session: SessionDep, who: VisitorDep) -> Response:
    """What members said about a product (visible reviews only), with the shop's replies."""
    shown = reviews.list_reviews(
        session, who.merchant_id, sku=sku[:80], visible_only=True, limit=50
    )[:50]
    name = shown[0].product_name if shown else None
    if name is None:
        found = session.scalar(
            select(OrderLine.name)
            .where(OrderLine.merchant_id == who.merchant_id, OrderLine.sku == sku[:80])
            .limit(1)
        )
        if found is None:
            raise NotFound("product not found", code="product_not_found")
        name = found
    context = {
        "name": name,
        "shown": shown,
        "summary": reviews.summary(shown),
        "photos": reviews.photos_of(session, who.merchant_id, [r.id for r in shown]),
    }
    return render(request, "portal/voice/product.html", context)


# --- cases --------------------------------------------------------------------------------


@router.get("/cases")
def my_cases(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    rows = cases.list_cases(session, who.merchant_id, member_id=who.member.id, limit=50)[:50]
    return render(request, "portal/voice/cases.html", {"rows": rows})


@router.get("/cases/new")
def case_form(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    order: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    lines = _my_lines(session, who.merchant_id, who.member.id)
    if order is not None and not any(o.id == order for o, _ in lines):
        raise NotFound("order not found", code="order_not_found")
    context = {"lines": lines, "order": order, "kinds": cases.KINDS}
    return render(request, "portal/voice/case_new.html", context)


@router.post("/cases")
def case_open(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    kind: Annotated[str, Form(max_length=16)],
    subject: Annotated[str, Form(max_length=200)],
    body: Annotated[str, Form(max_length=4000)] = "",
    line_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """The member opens a case; the order is the one of the lines they chose (one order)."""
    chosen = set(line_ids or [])
    order_id = None
    if chosen:
        owners = {
            o.id
            for o, line in _my_lines(session, who.merchant_id, who.member.id)
            if line.id in chosen
        }
        if len(owners) != 1:
            raise NotFound("order not found", code="order_not_found")
        order_id = owners.pop()
    try:
        case = cases.open_case(
            session,
            who.merchant_id,
            who.member.id,
            kind=kind,
            subject=subject,
            body=body,
            order_id=order_id,
            line_ids=sorted(chosen),
            source="member",
            actor=f"member:{who.member.id}",
        )
    except NotFound:
        raise
    except PatronError as exc:
        _refused(request, session, exc)
        return RedirectResponse("/portal/cases/new", status_code=303)
    flash(request, translate(request, "We received your request and will answer soon."))
    return RedirectResponse(f"/portal/cases/{case.id}", status_code=303)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: PathId, session: SessionDep, who: VisitorDep) -> Response:
    case = cases.member_case(session, who.merchant_id, who.member.id, case_id)
    order = session.get(Order, case.order_id) if case.order_id else None
    lines = orders.order_lines(session, [order.id]).get(order.id, []) if order else []
    context = {
        "case": case,
        "order": order,
        "case_lines": [line for line in lines if line.id in case.line_ids],
        "events": cases.timeline(session, case, public_only=True),
    }
    return render(request, "portal/voice/case.html", context)


@router.post("/cases/{case_id}/message")
def case_message(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    who: VisitorDep,
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    case = cases.member_case(session, who.merchant_id, who.member.id, case_id)
    try:
        cases.member_writes(session, case, body)
        flash(request, translate(request, "Sent. We will answer soon."))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/portal/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/satisfaction")
def case_satisfaction(
    request: Request,
    case_id: PathId,
    session: SessionDep,
    who: VisitorDep,
    score: Annotated[int, Form()],
) -> Response:
    case = cases.member_case(session, who.merchant_id, who.member.id, case_id)
    try:
        cases.answer_satisfaction(session, case, score)
        flash(request, translate(request, "Thank you for telling us."))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/portal/cases/{case_id}", status_code=303)
