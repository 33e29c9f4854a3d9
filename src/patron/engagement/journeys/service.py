"""Journeys: create (from scratch or the library), edit (a new version), switch on/off, and read
enrolments and step statistics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import known_event_types
from patron.core.member_fields import Context
from patron.core.paging import newest_first
from patron.engagement.journeys.festivals import FESTIVALS
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.journeys.models import Journey, JourneyEnrolment, JourneyVersion
from patron.engagement.journeys.steps import validate_steps
from patron.engagement.segments.rules import compile_rule
from patron.tenancy.models import Merchant

REENTRY = {"once", "per_key", "after_days"}


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_journey")


def validate_trigger(trigger: Any) -> None:
    if not isinstance(trigger, dict):
        raise _invalid("trigger: an object")
    if "event" in trigger:
        if trigger["event"] not in known_event_types():
            raise _invalid(f"trigger: unknown event type {trigger['event']!r}")
        if not isinstance(trigger.get("filter") or {}, dict):
            raise _invalid("trigger.filter: an object")
    elif trigger.get("date") == "festival":
        if trigger.get("festival") not in FESTIVALS:
            raise _invalid(f"trigger.festival: one of {sorted(FESTIVALS)}")
    elif trigger.get("date") != "birthday" and trigger.get("manual") != "promotion":
        raise _invalid("trigger: an event, a date (birthday, festival) or manual promotion")


def _validate_exit(session: Session, merchant_id: int, exit_rule: Any) -> None:
    if exit_rule is None:
        return
    if not isinstance(exit_rule, dict) or not set(exit_rule) <= {"purchase", "rules"}:
        raise _invalid("exit_rule: {purchase: true} and/or {rules: segment rules}")
    if exit_rule.get("rules"):
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        ctx = Context(session, merchant_id, utcnow(session), merchant.timezone)
        compile_rule(ctx, exit_rule["rules"], "exit_rule.rules")


def _add_version(session: Session, journey: Journey, definition: dict[str, Any]) -> None:
    validate_trigger(definition.get("trigger"))
    validate_steps(session, journey.merchant_id, definition.get("steps"))
    _validate_exit(session, journey.merchant_id, definition.get("exit_rule"))
    session.add(
        JourneyVersion(
            merchant_id=journey.merchant_id,
            journey_id=journey.id,
            version=journey.version,
            trigger=definition["trigger"],
            steps=definition["steps"],
            exit_rule=definition.get("exit_rule"),
            created_at=utcnow(session),
        )
    )


def _rules(reentry: str, days: int | None, window: int) -> None:
    if reentry not in REENTRY:
        raise _invalid(f"reentry: one of {sorted(REENTRY)}")
    if reentry == "after_days" and not (days and days > 0):
        raise _invalid("reentry after_days needs reentry_days > 0")
    if not 1 <= window <= 24 * 14:
        raise _invalid("send_window_hours: 1 to 336")


def create_journey(
    session: Session,
    merchant_id: int,
    name: str,
    definition: dict[str, Any],
    library_key: str | None = None,
) -> Journey:
    """A journey (switched off) with version 1 of ``definition``: trigger, steps, exit_rule,
    reentry, reentry_days, send_window_hours."""
    now = utcnow(session)
    reentry = definition.get("reentry", "per_key")
    window = int(definition.get("send_window_hours", 12))
    _rules(reentry, definition.get("reentry_days"), window)
    journey = Journey(
        merchant_id=merchant_id,
        name=name.strip(),
        library_key=library_key,
        status="off",
        version=1,
        reentry=reentry,
        reentry_days=definition.get("reentry_days"),
        send_window_hours=window,
        created_at=now,
        updated_at=now,
    )
    if not journey.name:
        raise _invalid("a journey needs a name")
    session.add(journey)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a journey named {name!r} exists", code="journey_exists") from exc
    _add_version(session, journey, definition)
    session.flush()
    return journey


def create_from_library(
    session: Session, merchant_id: int, key: str, params: dict[str, Any], name: str | None = None
) -> Journey:
    """A ready-made journey with the merchant's parameters (switched off until switched on)."""
    entry = LIBRARY.get(key)
    if entry is None:
        raise NotFound(f"no library journey {key!r}", code="library_journey_not_found")
    try:
        definition = entry.build(params)
    except KeyError as exc:
        raise _invalid(f"parameter {exc.args[0]!r} is needed") from exc
    return create_journey(session, merchant_id, name or entry.name, definition, library_key=key)


def update_journey(
    session: Session, merchant_id: int, journey_id: int, changes: dict[str, Any]
) -> Journey:
    """Save a new version (members already inside keep theirs) and/or change the rules."""
    journey = get_journey(session, merchant_id, journey_id)
    current = current_version(session, journey)
    reentry = changes.get("reentry", journey.reentry)
    days = changes.get("reentry_days", journey.reentry_days)
    window = int(changes.get("send_window_hours", journey.send_window_hours))
    _rules(reentry, days, window)
    journey.reentry, journey.reentry_days, journey.send_window_hours = reentry, days, window
    if changes.get("name"):
        journey.name = str(changes["name"]).strip()
    if {"trigger", "steps", "exit_rule"} & set(changes):
        journey.version += 1
        _add_version(
            session,
            journey,
            {
                "trigger": changes.get("trigger", current.trigger),
                "steps": changes.get("steps", current.steps),
                "exit_rule": changes.get("exit_rule", current.exit_rule),
            },
        )
    journey.updated_at = utcnow(session)
    session.flush()
    return journey


def switch(session: Session, merchant_id: int, journey_id: int, on: bool) -> Journey:
    """Switch on (new triggers enrol) or off (nobody new enters; members inside carry on)."""
    journey = get_journey(session, merchant_id, journey_id)
    journey.status = "on" if on else "off"
    journey.scheduled_at = None
    journey.updated_at = utcnow(session)
    session.flush()
    return journey


def get_journey(session: Session, merchant_id: int, journey_id: int) -> Journey:
    journey = session.get(Journey, journey_id)
    if journey is None or journey.merchant_id != merchant_id:
        raise NotFound("journey not found", code="journey_not_found")
    return journey


def current_version(session: Session, journey: Journey) -> JourneyVersion:
    version = session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey.id, JourneyVersion.version == journey.version
        )
    )
    assert version is not None
    return version


def list_journeys(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[Journey]:
    """The merchant's journeys by name; with ``limit``, one page newest first."""
    query = select(Journey).where(Journey.merchant_id == merchant_id).order_by(Journey.name)
    return list(session.scalars(newest_first(query, Journey.id, limit, cursor)))


def enrolments(
    session: Session,
    merchant_id: int,
    *,
    journey_id: int | None = None,
    member_id: int | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[JourneyEnrolment]:
    """Enrolments of a journey or of a member, newest first (``limit + 1`` rows for paging)."""
    query = select(JourneyEnrolment).where(JourneyEnrolment.merchant_id == merchant_id)
    if journey_id is not None:
        get_journey(session, merchant_id, journey_id)
        query = query.where(JourneyEnrolment.journey_id == journey_id)
    if member_id is not None:
        query = query.where(JourneyEnrolment.member_id == member_id)
    if cursor is not None:
        query = query.where(JourneyEnrolment.id < cursor)
    return list(session.scalars(query.order_by(JourneyEnrolment.id.desc()).limit(limit + 1)))


def step_stats(session: Session, merchant_id: int, journey_id: int) -> dict[str, Any]:
    """Enrolments by status and, per step, how many ran it with which outcome."""
    journey = get_journey(session, merchant_id, journey_id)
    by_status = dict(
        session.execute(
            select(JourneyEnrolment.status, func.count())
            .where(JourneyEnrolment.journey_id == journey.id)
            .group_by(JourneyEnrolment.status)
        ).all()
    )
    steps: dict[str, dict[str, int]] = {}
    waiting = dict(
        session.execute(
            select(JourneyEnrolment.step_id, func.count())
            .where(JourneyEnrolment.journey_id == journey.id, JourneyEnrolment.status == "active")
            .group_by(JourneyEnrolment.step_id)
        ).all()
    )
    # History is JSON per enrolment; counted here (a journey's enrolments, paged by the caller
    # in a future version if they grow past what one read can hold).
    reasons: dict[str, dict[str, int]] = {}
    for history in session.scalars(
        select(JourneyEnrolment.history).where(JourneyEnrolment.journey_id == journey.id)
    ):
        for entry in history:
            counts = steps.setdefault(entry["step"], {})
            counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
            if entry.get("reason"):  # why a step was skipped or exited ("missed window"…)
                why = reasons.setdefault(entry["step"], {})
                why[entry["reason"]] = why.get(entry["reason"], 0) + 1
    return {
        "journey_id": journey.id,
        "enrolments": {str(k): int(v) for k, v in by_status.items()},
        "waiting_at": {str(k): int(v) for k, v in waiting.items()},
        "steps": steps,
        "reasons": reasons,
    }
