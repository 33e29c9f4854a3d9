"""Reviews of bought products (ADR 1500).

Verified purchase: a member reviews a line of one of their own orders, once per line, unless
the order was cancelled or the line was refunded in full. A rating at or below the merchant's
``low_rating`` opens an after-sales case linked to the order and the line. Every new review
emits ``review.written`` and calls :func:`reward_review_written`, which never sees the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.orders.models import Order, OrderLine, OrderStatus
from patron.rewards import actions
from patron.voice import cases
from patron.voice.hours import service_settings
from patron.voice.models import CaseKind, CasePriority, CaseSource, Review, ReviewPhoto
from patron.voice.photos import CleanPhoto, clean_photo
from patron.voice.storage import MediaStorage

register_event_types("review.written", "review.hidden")
MAX_BODY = 2000


def reward_review_written(
    session: Session, merchant_id: int, member_id: int, review_id: int
) -> None:
    """Reward writing a review through the merchant's action rules (``review_written``, event
    id ``review:<id>``: once per review, within the action's caps; nothing if the merchant
    does not reward it). It is given no rating on purpose: a reward never depends on the
    score (ADR 1500)."""
    actions.record_known_action(
        session, merchant_id, member_id, "review_written", event_id=f"review:{review_id}"
    )


def reviewable_line(
    session: Session, merchant_id: int, member_id: int, line_id: int
) -> tuple[Order, OrderLine]:
    """The order line if this member may review it; ``NotFound`` for anyone else's line."""
    line = session.get(OrderLine, line_id)
    order = session.get(Order, line.order_id) if line is not None else None
    if (
        line is None
        or order is None
        or line.merchant_id != merchant_id
        or order.member_id != member_id
    ):
        raise NotFound("order line not found", code="order_line_not_found")
    if order.status == OrderStatus.CANCELLED.value or line.refunded_quantity >= line.quantity:
        raise InvalidInput(
            "a refunded or cancelled purchase cannot be reviewed", code="line_refunded"
        )
    return order, line


def can_review(order: Order, line: OrderLine) -> bool:
    return order.status != OrderStatus.CANCELLED.value and line.refunded_quantity < line.quantity


@dataclass(frozen=True)
class Written:
    review: Review
    case_id: int | None


def write_review(
    session: Session,
    merchant_id: int,
    member_id: int,
    line_id: int,
    rating: int,
    body: str,
    photos: Sequence[bytes],
    storage: MediaStorage,
) -> Written:
    """Check everything, then store the photos and the review; a refusal stores nothing."""
    order, line = reviewable_line(session, merchant_id, member_id, line_id)
    if type(rating) is not int or not 1 <= rating <= 5:
        raise InvalidInput("a rating is 1 to 5 stars", code="invalid_rating")
    body = body.strip()
    if len(body) > MAX_BODY:
        raise InvalidInput("a review is at most 2000 characters", code="review_too_long")
    conf = service_settings(session, merchant_id)
    if len(photos) > conf["max_photos"]:
        raise InvalidInput("too many photos", code="too_many_photos")
    cleaned: list[CleanPhoto] = [clean_photo(p, conf["max_photo_bytes"]) for p in photos]
    taken = session.scalar(
        select(Review.id).where(Review.merchant_id == merchant_id, Review.order_line_id == line.id)
    )
    if taken is not None:
        raise Conflict("this purchase already has a review", code="already_reviewed")
    now = utcnow(session)
    review = Review(
        merchant_id=merchant_id,
        member_id=member_id,
        order_id=order.id,
        order_line_id=line.id,
        sku=line.sku,
        product_name=line.name,
        rating=rating,
        body=body,
        created_at=now,
    )
    session.add(review)
    session.flush()
    keys: list[str] = []
    try:
        for photo in cleaned:
            key = storage.put(merchant_id, photo.data, photo.extension)
            keys.append(key)
            session.add(
                ReviewPhoto(
                    merchant_id=merchant_id,
                    review_id=review.id,
                    storage_key=key,
                    content_type=photo.content_type,
                    size_bytes=len(photo.data),
                    width=photo.width,
                    height=photo.height,
                    created_at=now,
                )
            )
        session.flush()
    except Exception:
        for key in keys:
            storage.delete(key)
        raise
    case_id = None
    if rating <= conf["low_rating"]:
        case = cases.open_case(
            session,
            merchant_id,
            member_id,
            kind=CaseKind.QUALITY.value,
            subject=line.name[:200],
            body=body,
            order_id=order.id,
            line_ids=[line.id],
            source=CaseSource.REVIEW.value,
            actor=f"member:{member_id}",
            priority=CasePriority.HIGH.value,
            review_id=review.id,
        )
        case_id = case.id
    payload = {
        "review_id": review.id,
        "member_id": member_id,
        "order_id": order.id,
        "order_line_id": line.id,
        "sku": line.sku,
        "event_id": f"review:{review.id}",
    }
    emit(session, merchant_id, "review.written", payload, subject_id=member_id)
    reward_review_written(session, merchant_id, member_id, review.id)
    return Written(review, case_id)


def get_review(session: Session, merchant_id: int, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.merchant_id != merchant_id:
        raise NotFound("review not found", code="review_not_found")
    return review


def reply(session: Session, merchant_id: int, review_id: int, text: str, actor: str) -> Review:
    review = get_review(session, merchant_id, review_id)
    text = text.strip()
    if not text or len(text) > MAX_BODY:
        raise InvalidInput("a reply is 1 to 2000 characters", code="invalid_reply")
    review.reply, review.replied_by, review.replied_at = text, actor, utcnow(session)
    session.flush()
    return review


def hide(session: Session, merchant_id: int, review_id: int, reason: str, actor: str) -> Review:
    review = get_review(session, merchant_id, review_id)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("say why the review is hidden", code="reason_required")
    review.hidden_at, review.hidden_by, review.hidden_reason = utcnow(session), actor, reason
    session.flush()
    emit(
        session,
        merchant_id,
        "review.hidden",
        {"review_id": review.id, "member_id": review.member_id, "actor": actor, "reason": reason},
        subject_id=review.member_id,
    )
    return review


def unhide(session: Session, merchant_id: int, review_id: int, actor: str) -> Review:
    review = get_review(session, merchant_id, review_id)
    review.hidden_at = review.hidden_by = review.hidden_reason = None
    session.flush()
    return review


def list_reviews(
    session: Session,
    merchant_id: int,
    *,
    rating: int | None = None,
    sku: str | None = None,
    member_id: int | None = None,
    visible_only: bool = False,
    limit: int = 50,
    cursor: int | None = None,
) -> list[Review]:
    """Newest first, ``limit + 1`` rows (the extra one says there is another page)."""
    q = select(Review).where(Review.merchant_id == merchant_id)
    if rating is not None:
        q = q.where(Review.rating == rating)
    if sku:
        q = q.where(Review.sku == sku)
    if member_id is not None:
        q = q.where(Review.member_id == member_id)
    if visible_only:
        q = q.where(Review.hidden_at.is_(None))
    if cursor is not None:
        q = q.where(Review.id < cursor)
    return list(session.scalars(q.order_by(Review.id.desc()).limit(limit + 1)))


def photos_of(
    session: Session, merchant_id: int, review_ids: Sequence[int]
) -> dict[int, list[ReviewPhoto]]:
    found: dict[int, list[ReviewPhoto]] = {}
    if not review_ids:
        return found
    rows = session.scalars(
        select(ReviewPhoto)
        .where(ReviewPhoto.merchant_id == merchant_id, ReviewPhoto.review_id.in_(review_ids))
        .order_by(ReviewPhoto.id)
    )
    for photo in rows:
        found.setdefault(photo.review_id, []).append(photo)
    return found


def get_photo(session: Session, merchant_id: int, photo_id: int) -> ReviewPhoto:
    photo = session.get(ReviewPhoto, photo_id)
    if photo is None or photo.merchant_id != merchant_id:
        raise NotFound("photo not found", code="photo_not_found")
    return photo


def line_reviews(session: Session, merchant_id: int, line_ids: Sequence[int]) -> dict[int, Review]:
    if not line_ids:
        return {}
    rows = session.scalars(
        select(Review).where(Review.merchant_id == merchant_id, Review.order_line_id.in_(line_ids))
    )
    return {r.order_line_id: r for r in rows}


def summary(reviews: Sequence[Review]) -> dict[str, Any]:
    shown = [r.rating for r in reviews]
    return {"count": len(shown), "average": round(sum(shown) / len(shown), 1) if shown else None}
