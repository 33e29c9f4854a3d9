"""What enters members into journeys: outbox events, dates, and the promotion call.

- Event triggers ``{"event": "order.created", "filter": {...}}``: the consumer "journeys" reads
  the outbox with its own cursor and enrols the event's member into every switched-on journey
  of that merchant whose trigger matches. The reason key is the event's business key (the order
  id, the points lot, the tier reached), so reading an event twice enrols once.
- Date triggers ``{"date": "birthday"}`` / ``{"date": "festival", "festival": "mid_autumn"}``:
  the scheduler evaluates each journey every ``SCHEDULE_EVERY`` in each member's local date (the
  member's time zone, else the merchant's), so nobody is greeted a day early; reason keys are
  ``birthday:{year}`` and ``{festival}:{year}``, and ``lunar-birthday:{lunar year}`` for a
  member who celebrates a lunar birthday (ADR 1332). Days already past are never caught up.
- ``{"manual": "promotion"}``: :func:`promote` enrols the members whose preferences match a
  product's category or tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, NotFound
from patron.core.events import OutboxEvent, consume_outbox
from patron.core.request_id import acting_for
from patron.core.sqlfn import has_in_json_array, month_day
from patron.engagement.journeys.engine import enrol
from patron.engagement.journeys.festivals import festival_date
from patron.engagement.journeys.models import Journey, JourneyVersion
from patron.engagement.segments.models import SegmentMember
from patron.members import lunar
from patron.members.models import Member
from patron.orders.models import Product
from patron.tenancy.models import Merchant

CURSOR = "journeys"
SCHEDULE_EVERY = timedelta(minutes=15)
# The field of an event's payload that says *why* (one enrolment per value).
REASON_FIELDS = {
    "order.created": "id",
    "points.expiring_soon": "lot_id",
    "tier.changed": "to",
    "member.created": None,  # one welcome per member
}


def _trigger(session: Session, journey: Journey) -> dict[str, Any]:
    version = session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey.id, JourneyVersion.version == journey.version
        )
    )
    assert version is not None
    return version.trigger


def event_member(event: OutboxEvent) -> int | None:
    """Whose event this is: ``member_id`` in the payload, or the member of ``member.*``."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.type.startswith("member."):
        value = payload.get("id", event.subject_id)
    else:
        value = payload.get("member_id")
    return value if isinstance(value, int) else None


def matches(trigger: dict[str, Any], event: OutboxEvent) -> bool:
    """The trigger names this event type and every filter field agrees (``true`` = present)."""
    if trigger.get("event") != event.type:
        return False
    payload = event.payload if isinstance(event.payload, dict) else {}
    for key, wanted in (trigger.get("filter") or {}).items():
        value = payload.get("registered_at") if key == "registered" else payload.get(key)
        if wanted is True and not value:
            return False
        if wanted is not True and value != wanted:
            return False
    return True


def _reason(event: OutboxEvent) -> str:
    field = REASON_FIELDS.get(event.type, "__event__")
    if field is None:
        return event.type
    value = event.id if field == "__event__" else event.payload.get(field, event.id)
    return f"{event.type}:{value}"


def _on(session: Session, merchant_id: int) -> list[Journey]:
    return list(
        session.scalars(
            select(Journey)
            .where(Journey.merchant_id == merchant_id, Journey.status == "on")
            .order_by(Journey.id)
        )
    )


def enrol_from_events(session: Session, events: Iterable[OutboxEvent]) -> int:
    """Enrol the members of ``events`` into matching journeys; returns enrolments made."""
    made = 0
    triggers: dict[int, list[tuple[Journey, dict[str, Any]]]] = {}
    for event in events:
        member_id = event_member(event)
        if member_id is None:
            continue
        if event.merchant_id not in triggers:
            triggers[event.merchant_id] = [
                (j, _trigger(session, j)) for j in _on(session, event.merchant_id)
            ]
        for journey, trigger in triggers[event.merchant_id]:
            if matches(trigger, event):
                context = {"event": event.payload, "event_type": event.type}
                if event.request_id:  # its steps run for the request that caused the event
                    context["request_id"] = event.request_id
                with acting_for(event.request_id):
                    made += int(enrol(session, journey, member_id, _reason(event), context))
    return made


def follow_events(session: Session, batch: int = 500) -> int:
    """Read the outbox past the "journeys" cursor; returns how many events were read."""

    def handle(events: list[OutboxEvent]) -> None:
        enrol_from_events(session, events)

    return consume_outbox(session, CURSOR, handle, batch=batch)


def _date_conditions(trigger: dict[str, Any], today: date) -> list[tuple[ColumnElement[bool], str]]:
    """Who is due today (this local date) and under which reason (none: nobody)."""
    if trigger.get("date") == "birthday":
        days = [today.strftime("%m-%d")]
        if (today.month, today.day) == (2, 28) and not _leap(today.year):
            days.append("02-29")  # 29 February birthdays are greeted on the 28th
        gregorian = and_(month_day(Member.birthday).in_(days), lunar.no_lunar_birthday())
        # A lunar birthday is greeted instead, once per lunar year (ADR 1332).
        return [
            (gregorian, f"birthday:{today.year}"),
            (lunar.due_condition(today), f"lunar-birthday:{lunar.lunar_year_of(today)}"),
        ]
    if trigger.get("date") == "festival":
        name = str(trigger.get("festival"))
        ahead = int(trigger.get("days_before", 0))
        if festival_date(name, (today + timedelta(days=ahead)).year) != today + timedelta(
            days=ahead
        ):
            return []
        everyone: ColumnElement[bool] = Member.id.is_not(None)
        return [(everyone, f"{name}:{(today + timedelta(days=ahead)).year}")]
    return []


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def schedule_journey(session: Session, journey: Journey, trigger: dict[str, Any]) -> int:
    """Enrol everyone due today for a date trigger, one time zone at a time."""
    merchant = session.get(Merchant, journey.merchant_id)
    assert merchant is not None
    now = utcnow(session)
    base = select(Member.id).where(
        Member.merchant_id == journey.merchant_id, Member.merged_into_id.is_(None)
    )
    if trigger.get("segment_id"):
        base = base.join(SegmentMember, SegmentMember.member_id == Member.id).where(
            SegmentMember.segment_id == int(trigger["segment_id"])
        )
    zones = set(
        session.scalars(select(Member.timezone).where(Member.merchant_id == merchant.id).distinct())
    )
    made = 0
    for zone in zones:
        today = now.astimezone(ZoneInfo(zone or merchant.timezone)).date()
        in_zone = Member.timezone == zone if zone else Member.timezone.is_(None)
        for condition, reason in _date_conditions(trigger, today):
            for member_id in session.scalars(base.where(in_zone, condition).order_by(Member.id)):
                made += int(
                    enrol(session, journey, member_id, reason, {"local_date": today.isoformat()})
                )
    return made


def schedule(session: Session) -> int:
    """Evaluate the date triggers of journeys not evaluated for ``SCHEDULE_EVERY``."""
    now = utcnow(session)
    journeys = list(
        session.scalars(
            select(Journey)
            .where(
                Journey.status == "on",
                or_(Journey.scheduled_at.is_(None), Journey.scheduled_at <= now - SCHEDULE_EVERY),
            )
            .order_by(Journey.id)
            .limit(20)
        )
    )
    made = 0
    for journey in journeys:
        trigger = _trigger(session, journey)
        if "date" in trigger:
            made += schedule_journey(session, journey, trigger)
        journey.scheduled_at = now
    return made


def promote(session: Session, merchant_id: int, journey: Journey, product_id: int) -> int:
    """Tell the members who like a product's category or tags about it (it is on promotion)."""
    if _trigger(session, journey).get("manual") != "promotion" or journey.status != "on":
        raise BusinessRuleViolation(
            "this journey is not a switched-on promotion journey", code="not_a_promotion_journey"
        )
    product = session.get(Product, product_id)
    if product is None or product.merchant_id != merchant_id:
        raise NotFound("product not found", code="product_not_found")
    liked = {t for t in [product.category, *(product.tags or [])] if t}
    likes: list[ColumnElement[bool]] = [
        has_in_json_array(Member.preferences, kind, value)
        for value in sorted(liked)
        for kind in ("categories", "styles")
    ]
    members = session.scalars(
        select(Member.id)
        .where(
            Member.merchant_id == merchant_id, Member.merged_into_id.is_(None), or_(false(), *likes)
        )
        .order_by(Member.id)
    )
    context = {
        "product": {
            "name": product.name,
            "sku": product.sku,
            "price": product.price_minor,
            "category": product.category or "",
        }
    }
    day = utcnow(session).date().isoformat()
    return sum(
        int(enrol(session, journey, m, f"promotion:{product.id}:{day}", context)) for m in members
    )


def follow_events_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return follow_events(session)


def schedule_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return schedule(session)
