"""Durable journey execution: enrol, then run exactly one step per transaction.

The worker claims due enrolments with :func:`patron.core.claim.claim_due` (a lease, ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL) and commits the claim. Each enrolment then gets its own transaction
that locks its row, re-checks it is still due at the same step, checks the exit rule, does the
step's effect (message, grant, tag), and records the step in ``history`` with the next step and
its due time. Effect and record commit together, so a crash before the commit re-runs the same
step and a crash after it never does; the effect keys (``journey:{enrolment}:{step}``) make even
a re-run harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from patron.core.claim import claim_due
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import is_postgres, transaction
from patron.core.request_id import acting_for
from patron.engagement.journeys.models import (
    EnrolmentStatus,
    Journey,
    JourneyEnrolment,
    JourneyVersion,
)
from patron.engagement.journeys.steps import Outcome, StepRun, rules_hold, run_step
from patron.members.models import Member
from patron.orders.models import Order, OrderStatus

log = logging.getLogger("patron.journeys")
CLAIM_BATCH = 100
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def enrol(
    session: Session,
    journey: Journey,
    member_id: int,
    reason: str,
    context: dict[str, Any] | None = None,
) -> bool:
    """Enter ``member_id`` into the journey for ``reason`` (an order id, ``birthday:2026`` …),
    under the journey's re-entry rule. Returns False when the rule or the key says no."""
    now = utcnow(session)
    key = f"{member_id}:once" if journey.reentry == "once" else f"{member_id}:{reason}"
    if journey.reentry == "after_days":
        since = now - timedelta(days=journey.reentry_days or 0)
        recent = exists().where(
            JourneyEnrolment.journey_id == journey.id,
            JourneyEnrolment.member_id == member_id,
            JourneyEnrolment.entered_at > since,
        )
        if session.scalar(select(recent)):
            return False
    version = session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey.id, JourneyVersion.version == journey.version
        )
    )
    assert version is not None
    row = {
        "merchant_id": journey.merchant_id,
        "journey_id": journey.id,
        "journey_version": journey.version,
        "member_id": member_id,
        "enrolment_key": key[:200],
        "status": EnrolmentStatus.ACTIVE.value,
        "step_id": version.steps[0]["id"],
        "next_run_at": now,
        "attempts": 0,
        "context": context or {},
        "history": [],
        "entered_at": now,
        "updated_at": now,
    }
    maker = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = maker(JourneyEnrolment).on_conflict_do_nothing(
        index_elements=["journey_id", "enrolment_key", "merchant_id"]
    )
    # RETURNING says whether a row went in (rowcount is unreliable for ON CONFLICT DO NOTHING).
    inserted = session.execute(stmt.values(**row).returning(JourneyEnrolment.id)).scalar()
    return inserted is not None


def exit_reason(
    session: Session, enrolment: JourneyEnrolment, rule: dict[str, Any] | None
) -> str | None:
    """Why the member leaves now (the exit rule holds), or None."""
    if not rule:
        return None
    if rule.get("purchase"):
        bought = exists().where(
            Order.merchant_id == enrolment.merchant_id,
            Order.member_id == enrolment.member_id,
            Order.status.in_(COUNTED),
            Order.placed_at > enrolment.entered_at,
        )
        if session.scalar(select(bought)):
            return "made a purchase"
    if rule.get("rules") and rules_hold(
        session, enrolment.merchant_id, enrolment.member_id, rule["rules"], utcnow(session)
    ):
        return "exit rules hold"
    return None


def _lock(session: Session, enrolment_id: int) -> JourneyEnrolment | None:
    query = select(JourneyEnrolment).where(JourneyEnrolment.id == enrolment_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.scalar(query)


def _following(steps: list[dict[str, Any]], step_id: str) -> str | None:
    ids = [s["id"] for s in steps]
    at = ids.index(step_id)
    return ids[at + 1] if at + 1 < len(ids) else None


def record_step(
    enrolment: JourneyEnrolment,
    steps: list[dict[str, Any]],
    step: dict[str, Any],
    outcome: Outcome,
    now: datetime,
) -> None:
    """Write the step into the history and move the enrolment to its next step."""
    entry = {"step": step["id"], "type": step["type"], "at": now.isoformat()}
    entry |= {"outcome": outcome.outcome, **({"reason": outcome.reason} if outcome.reason else {})}
    enrolment.history = [*enrolment.history, entry | outcome.detail]
    following = outcome.goto or _following(steps, step["id"])
    if outcome.outcome == "exit" or following is None:
        done = EnrolmentStatus.EXITED if outcome.outcome == "exit" else EnrolmentStatus.COMPLETED
        enrolment.status = done.value
        enrolment.step_id = None
        enrolment.next_run_at = None
        enrolment.finished_at = now
    else:
        enrolment.step_id = following
        enrolment.next_run_at = outcome.run_at or now
    enrolment.attempts = 0
    enrolment.last_error = None
    enrolment.locked_until = None
    enrolment.updated_at = now


def execute(session: Session, enrolment_id: int) -> bool:
    """Run the enrolment's due step (one) in the caller's transaction; False if not due."""
    now = utcnow(session)
    enrolment = _lock(session, enrolment_id)
    if (
        enrolment is None
        or enrolment.status != EnrolmentStatus.ACTIVE
        or enrolment.next_run_at is None
        or enrolment.next_run_at > now
    ):
        return False
    version = session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == enrolment.journey_id,
            JourneyVersion.version == enrolment.journey_version,
        )
    )
    member = session.get(Member, enrolment.member_id)
    assert version is not None and member is not None
    step = next(s for s in version.steps if s["id"] == enrolment.step_id)
    reason = exit_reason(session, enrolment, version.exit_rule)
    if reason is not None:
        record_step(enrolment, version.steps, step, Outcome("exit", reason=reason), now)
        return True
    journey = session.get(Journey, enrolment.journey_id)
    assert journey is not None
    context = dict(enrolment.context)
    run = StepRun(
        session,
        enrolment.merchant_id,
        member,
        enrolment.id,
        context,
        now,
        enrolment.next_run_at,
        timedelta(hours=journey.send_window_hours),
    )
    with acting_for(context.get("request_id")):
        outcome = run_step(run, step)
    enrolment.context = context
    record_step(enrolment, version.steps, step, outcome, now)
    session.flush()
    return True


def _failed(sessions: sessionmaker[Session], enrolment_id: int, error: Exception) -> None:
    with transaction(sessions) as session:
        now = utcnow(session)
        enrolment = _lock(session, enrolment_id)
        if enrolment is None:
            return
        enrolment.attempts += 1
        enrolment.last_error = f"{type(error).__name__}: {error}"[:2000]
        enrolment.locked_until = None
        enrolment.updated_at = now
        if enrolment.attempts >= MAX_ATTEMPTS:
            enrolment.status = EnrolmentStatus.FAILED.value
            enrolment.finished_at = now
        else:
            enrolment.next_run_at = now + RETRY_BASE * 2 ** (enrolment.attempts - 1)


def run_due(sessions: sessionmaker[Session], limit: int = CLAIM_BATCH) -> int:
    """Claim due enrolments and run one step of each, each in its own transaction."""
    with transaction(sessions) as session:
        now = utcnow(session)
        ready = and_(
            JourneyEnrolment.status == EnrolmentStatus.ACTIVE.value,
            JourneyEnrolment.next_run_at <= now,
        )
        ids = claim_due(
            session,
            JourneyEnrolment,
            ready,
            limit=limit,
            lease=LEASE,
            order_by=JourneyEnrolment.next_run_at,
        )
    done = 0
    for enrolment_id in ids:
        try:
            with transaction(sessions) as session:
                done += 1 if execute(session, enrolment_id) else 0
        except Exception as exc:  # the step's transaction rolled back: retry it later
            log.exception("journey step failed", extra={"enrolment": enrolment_id})
            _failed(sessions, enrolment_id, exc)
    return done


def run_steps_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    """Worker task: run the due journey steps."""
    return run_due(sessions)
