"""The daily check-in (签到, ADR 1320).

A member checks in once per day of the merchant's calendar (its time zone). The *streak* of a
check-in is the number of days in a row, ending that day, on which the member checked in: the
day after a check-in continues it (+1); a day without one breaks it, so the next check-in starts
again at 1. The streak *shown* on a day is today's if the member checked in today, else
yesterday's (still alive until today ends), else 0.

What a check-in earns comes from the check-in setting in force (versioned, ADR 0350): the day's
points (the same every day, or by streak day) and growth, plus a milestone's points, growth and
coupon on the streak day it names — again each time a new streak reaches it.

Atomicity: the row is inserted with ``ON CONFLICT DO NOTHING`` on (member, local day); of ten
requests at once exactly one inserts (on PostgreSQL the others wait for its transaction at the
unique index, then insert nothing) and only that one posts rewards. The others are refused
``already_checked_in`` and change nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import is_postgres
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, PatronError
from patron.core.paging import newest_first
from patron.coupons import service as coupons
from patron.coupons.models import CodeSource, CouponTemplate
from patron.ledger import queries
from patron.ledger.service import EntryInfo
from patron.ledger.words import Words
from patron.members.attention import record_activity
from patron.programs.calendar import merchant_zone
from patron.programs.config import CheckInConfig, Milestone
from patron.programs.rules import CONFIG_CHECKS, RuleInForce, check_in_rule
from patron.rewards.grants import grant, reward_words
from patron.rewards.models import MemberCheckIn

log = logging.getLogger("patron.rewards")
REASON = "check_in"
STRIP_DAYS = 7


def local_today(session: Session, merchant_id: int, now: datetime | None = None) -> date:
    return (now or utcnow(session)).astimezone(merchant_zone(session, merchant_id)).date()


def _in_force(session: Session, merchant_id: int) -> RuleInForce[CheckInConfig]:
    rule = check_in_rule(session, merchant_id, utcnow(session))
    if rule is None or not rule.config.enabled:
        raise BusinessRuleViolation(
            "this merchant has no daily check-in", code="check_in_not_offered"
        )
    return rule


def _day_row(session: Session, merchant_id: int, member_id: int, day: date) -> MemberCheckIn | None:
    return session.scalar(
        select(MemberCheckIn).where(
            MemberCheckIn.merchant_id == merchant_id,
            MemberCheckIn.member_id == member_id,
            MemberCheckIn.local_day == day,
        )
    )


def check_in(
    session: Session, merchant_id: int, member_id: int, source: str = "api"
) -> MemberCheckIn:
    """Check the member in today, or refuse (``already_checked_in``, 409; nothing granted)."""
    queries.check_member(session, merchant_id, member_id)
    rule = _in_force(session, merchant_id)
    now = utcnow(session)
    today = local_today(session, merchant_id, now)
    yesterday = _day_row(session, merchant_id, member_id, today - timedelta(days=1))
    streak = yesterday.streak + 1 if yesterday is not None else 1
    maker = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = (
        maker(MemberCheckIn)
        .values(
            merchant_id=merchant_id,
            member_id=member_id,
            local_day=today,
            streak=streak,
            points=0,
            growth=0,
            coupon_code_ids=[],
            rule_version=rule.version,
            checked_in_at=now,
            source=source[:16],
        )
        .on_conflict_do_nothing(index_elements=["member_id", "local_day", "merchant_id"])
        .returning(MemberCheckIn.id)
    )
    row_id = session.execute(stmt).scalar()
    if row_id is None:
        raise Conflict(
            "already checked in today; come back tomorrow",
            code="already_checked_in",
            details={"local_day": today.isoformat()},
        )
    row = session.get(MemberCheckIn, row_id)
    assert row is not None
    cfg = rule.config
    milestone = cfg.milestone_on(streak)
    points = cfg.points_on(streak) + (milestone.points if milestone else 0)
    growth = cfg.daily_growth + (milestone.growth if milestone else 0)
    words = Words("check_in", {"streak": streak})
    if milestone is not None:
        words = Words("check_in_milestone", {"streak": streak})
    info = EntryInfo.worded(
        REASON,
        reward_words(words, points, growth),
        f"member:{member_id}" if source == "portal" else "system:check_in",
        object_type="check_in",
        object_id=str(row_id),
        rule_version=rule.tag,
    )
    row.entry_id = grant(session, merchant_id, member_id, points, growth, info, "check-in")
    row.points, row.growth = points, growth
    if milestone is not None and milestone.coupon_template_id:
        code_id = _milestone_coupon(session, merchant_id, member_id, milestone, today)
        if code_id is not None:
            row.coupon_code_ids = [code_id]
    record_activity(session, merchant_id, member_id, "check_in", f"check_in:{today.isoformat()}")
    session.flush()
    return row


def _milestone_coupon(
    session: Session, merchant_id: int, member_id: int, milestone: Milestone, today: date
) -> int | None:
    """Issue the milestone's coupon; a refusal (limit reached, coupon ended) keeps the
    check-in and its points and is logged."""
    assert milestone.coupon_template_id is not None
    try:
        with session.begin_nested():
            code = coupons.issue_code(
                session,
                merchant_id,
                milestone.coupon_template_id,
                member_id,
                source=CodeSource.CHECK_IN,
                reason_key=f"check_in:{today.isoformat()}:{milestone.day}",
                actor="system:check_in",
            )
    except PatronError as exc:
        log.info("check-in coupon not issued", extra={"why": exc.code})
        return None
    return code.id


@dataclass
class CheckInState:
    """What the portal's card and the API's status show for one member today."""

    today: date
    checked_in_today: bool
    streak: int
    today_points: int  # earned today, or what checking in today would earn
    next_milestone: Milestone | None
    days_to_next: int | None
    last_days: list[tuple[date, bool]] = field(default_factory=list)  # oldest first
    offered: bool = True


def state(session: Session, merchant_id: int, member_id: int) -> CheckInState:
    now = utcnow(session)
    today = local_today(session, merchant_id, now)
    rule = check_in_rule(session, merchant_id, now)
    first = today - timedelta(days=STRIP_DAYS - 1)
    rows = {
        r.local_day: r
        for r in session.scalars(
            select(MemberCheckIn).where(
                MemberCheckIn.merchant_id == merchant_id,
                MemberCheckIn.member_id == member_id,
                MemberCheckIn.local_day >= today - timedelta(days=STRIP_DAYS),
            )
        )
    }
    mine = rows.get(today)
    alive = mine or rows.get(today - timedelta(days=1))
    streak = alive.streak if alive is not None else 0
    strip = [(first + timedelta(days=i), first + timedelta(days=i) in rows) for i in range(7)]
    if rule is None or not rule.config.enabled:
        return CheckInState(today, mine is not None, streak, 0, None, None, strip, False)
    cfg = rule.config
    if mine is not None:
        today_points = mine.points
        upcoming = cfg.next_milestone(streak)
        days = upcoming.day - streak if upcoming else None
    else:
        would = streak + 1
        milestone = cfg.milestone_on(would)
        today_points = cfg.points_on(would) + (milestone.points if milestone else 0)
        upcoming = cfg.next_milestone(streak)
        days = upcoming.day - streak if upcoming else None
    return CheckInState(today, mine is not None, streak, today_points, upcoming, days, strip)


def history(
    session: Session,
    merchant_id: int,
    member_id: int,
    limit: int | None = 30,
    cursor: int | None = None,
) -> list[MemberCheckIn]:
    """The member's newest first; with ``limit``, ``limit + 1`` rows below ``cursor`` (a page)."""
    query = select(MemberCheckIn).where(
        MemberCheckIn.merchant_id == merchant_id, MemberCheckIn.member_id == member_id
    )
    return list(session.scalars(newest_first(query, MemberCheckIn.id, limit, cursor)))


def _milestone_coupons_are_the_merchants(
    session: Session, merchant_id: int, config: BaseModel
) -> None:
    """A check-in milestone names one of the merchant's own coupons (checked on save)."""
    if not isinstance(config, CheckInConfig):
        return
    wanted = {m.coupon_template_id for m in config.milestones if m.coupon_template_id}
    if not wanted:
        return
    found = set(
        session.scalars(
            select(CouponTemplate.id).where(
                CouponTemplate.merchant_id == merchant_id, CouponTemplate.id.in_(wanted)
            )
        )
    )
    if wanted - found:
        raise InvalidInput(
            "a milestone names a coupon this merchant does not have",
            code="invalid_program_config",
            details={
                "errors": [
                    {"loc": "milestones.coupon_template_id", "msg": f"no coupon {i}"}
                    for i in sorted(wanted - found)
                ]
            },
        )


CONFIG_CHECKS.append(_milestone_coupons_are_the_merchants)
