"""Earning for named actions (ADR 1321): ``review_written``, ``social_follow``… as the merchant
names them in the actions setting (versioned, ADR 0350).

Each event carries an id unique per merchant: the same id with the same content answers the
first result and earns nothing again; with other content it is refused (``event_id_reused``).
An event over a cap (per day, Monday-to-Sunday week, calendar month — the merchant's calendar —
or ever, counting the member's *earning* events of that action) is recorded and earns nothing,
saying which cap. Caps are counted with the member's row locked (PostgreSQL ``FOR UPDATE``), so
two events of one member at once cannot both take the last place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import is_postgres
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from patron.core.paging import newest_first
from patron.ledger.service import EntryInfo
from patron.ledger.words import Words
from patron.members.attention import record_activity
from patron.members.models import Member
from patron.programs.calendar import merchant_zone
from patron.programs.config import ActionRule
from patron.programs.rules import actions_rule
from patron.rewards.grants import grant, reward_words
from patron.rewards.models import MemberAction

REASON = "action"
# Actions Patron itself records where it knows them (the portal's profile page).
PATRON_ACTIONS = ("birthday_given", "profile_completed")


@dataclass
class ActionResult:
    row: MemberAction
    replayed: bool


def _caps(rule: ActionRule, today: date) -> list[tuple[str, int, date | None]]:
    """(cap name, limit, first local day counted; None: ever)."""
    out: list[tuple[str, int, date | None]] = []
    if rule.cap_per_day is not None:
        out.append(("cap_per_day", rule.cap_per_day, today))
    if rule.cap_per_week is not None:
        out.append(("cap_per_week", rule.cap_per_week, today - timedelta(days=today.weekday())))
    if rule.cap_per_month is not None:
        out.append(("cap_per_month", rule.cap_per_month, today.replace(day=1)))
    if rule.cap_ever is not None:
        out.append(("cap_ever", rule.cap_ever, None))
    return out


def _cap_reached(
    session: Session, merchant_id: int, member_id: int, rule: ActionRule, today: date
) -> str | None:
    for name, limit, since in _caps(rule, today):
        q = select(func.count()).where(
            MemberAction.merchant_id == merchant_id,
            MemberAction.member_id == member_id,
            MemberAction.action == rule.name,
            MemberAction.earned.is_(True),
        )
        if since is not None:
            q = q.where(MemberAction.local_day >= since)
        if int(session.scalar(q) or 0) >= limit:
            return name
    return None


def _lock_member(session: Session, merchant_id: int, member_id: int) -> None:
    q = select(Member.id).where(Member.merchant_id == merchant_id, Member.id == member_id)
    if is_postgres(session):
        q = q.with_for_update()
    if session.scalar(q) is None:
        raise NotFound("no such member", code="member_not_found")


def _same(
    row: MemberAction,
    member_id: int,
    action: str,
    occurred_at: datetime | None,
    details: dict[str, Any] | None,
) -> bool:
    """A retry of the event: same member and action; a time or details sent must match."""
    return (
        row.member_id == member_id
        and row.action == action
        and (occurred_at is None or row.occurred_at == occurred_at)
        and (details is None or row.details == details)
    )


def record_action(
    session: Session,
    merchant_id: int,
    member_id: int,
    action: str,
    event_id: str,
    *,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    actor: str = "api",
) -> ActionResult:
    """Record one event of ``action`` for the member and earn what the rule in force says."""
    if not event_id or len(event_id) > 200:
        raise InvalidInput("event_id is 1 to 200 characters", code="invalid_event_id")
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at needs a time zone", code="naive_datetime")
    _lock_member(session, merchant_id, member_id)
    found = session.scalar(
        select(MemberAction).where(
            MemberAction.merchant_id == merchant_id, MemberAction.event_id == event_id
        )
    )
    if found is not None:
        if not _same(found, member_id, action, occurred_at, details):
            raise Conflict(
                "this event id was already used for another event",
                code="event_id_reused",
                details={"event_id": event_id},
            )
        return ActionResult(found, True)
    now = utcnow(session)
    config = actions_rule(session, merchant_id, now)
    names = [a.name for a in config.config.actions] if config else []
    rule = config.config.rule(action) if config else None
    if config is None or rule is None:
        raise BusinessRuleViolation(
            f"unknown action {action!r}",
            code="unknown_action",
            details={"actions": names},
        )
    today = now.astimezone(merchant_zone(session, merchant_id)).date()
    refusal = _cap_reached(session, merchant_id, member_id, rule, today)
    row = MemberAction(
        merchant_id=merchant_id,
        member_id=member_id,
        action=action,
        event_id=event_id,
        local_day=today,
        occurred_at=occurred_at or now,
        recorded_at=now,
        points=0,
        growth=0,
        earned=refusal is None,
        refusal=refusal,
        rule_version=config.version,
        details=details,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # the same id for another member, at the same moment
        raise Conflict(
            "this event id was already used for another event",
            code="event_id_reused",
            details={"event_id": event_id},
        ) from exc
    if refusal is None:
        words = reward_words(Words("action", {"action": rule.label}), rule.points, rule.growth)
        info = EntryInfo.worded(
            REASON,
            words,
            actor,
            object_type="member_action",
            object_id=str(row.id),
            rule_version=config.tag,
        )
        row.entry_id = grant(
            session, merchant_id, member_id, rule.points, rule.growth, info, f"action {action}"
        )
        row.points, row.growth = rule.points, rule.growth
    record_activity(session, merchant_id, member_id, "action", f"action:{action}:{today}")
    session.flush()
    return ActionResult(row, False)


def record_known_action(
    session: Session,
    merchant_id: int,
    member_id: int,
    action: str,
    event_id: str | None = None,
) -> bool:
    """An action Patron saw itself: once per member ever unless ``event_id`` names the
    occasion (a review: once per review). Nothing happens if the merchant does not reward it.
    True if it was recorded now."""
    config = actions_rule(session, merchant_id, utcnow(session))
    if config is None or config.config.rule(action) is None:
        return False
    result = record_action(
        session,
        merchant_id,
        member_id,
        action,
        event_id or f"patron:{action}:{member_id}",
        actor="portal",
    )
    return not result.replayed


def history(
    session: Session,
    merchant_id: int,
    member_id: int,
    limit: int | None = 30,
    cursor: int | None = None,
) -> list[MemberAction]:
    """The member's newest first; with ``limit``, ``limit + 1`` rows below ``cursor`` (a page)."""
    query = select(MemberAction).where(
        MemberAction.merchant_id == merchant_id, MemberAction.member_id == member_id
    )
    return list(session.scalars(newest_first(query, MemberAction.id, limit, cursor)))
