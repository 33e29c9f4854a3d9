"""Welcome and birthday points: once per member (welcome) and once per member per year
(birthday), guaranteed by ledger idempotency keys, on the member's birthday in the merchant's
time zone (29 February birthdays are celebrated on 28 February in other years). A member with a
lunar birthday gets the birthday points on it instead, once per lunar year (ADR 1332)."""

from __future__ import annotations

from calendar import isleap
from datetime import date, datetime, timedelta

from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.ledger.models import IdempotencyKey
from patron.ledger.service import EntryInfo, earn_points
from patron.ledger.words import Words
from patron.members import lunar
from patron.members.models import Member
from patron.programs.calendar import expiry_at, merchant_zone
from patron.programs.models import ProgramRule
from patron.programs.rules import points_rule

WELCOME_LOOKBACK = timedelta(days=7)


def _grant(
    session: Session, merchant_id: int, member_id: int, kind: str, key: str, year: int | None
) -> bool:
    now = utcnow(session)
    rule = points_rule(session, merchant_id, now)
    if rule is None:
        return False
    points = rule.config.welcome_bonus if kind == "welcome" else rule.config.birthday_bonus
    if points <= 0:
        return False
    words = Words("welcome_bonus") if kind == "welcome" else Words("birthday_bonus", {"year": year})
    info = EntryInfo.worded(
        f"{kind}_bonus",
        words,
        "system",
        object_type="member",
        object_id=str(member_id),
        rule_version=rule.tag,
    )
    expires = expiry_at(rule.config.expiry, now, merchant_zone(session, merchant_id))
    posted = earn_points(
        session,
        merchant_id,
        member_id,
        points,
        info,
        expires_at=expires,
        idempotency_key=key,
        body={"bonus": kind, "member_id": member_id, "year": year},
    )
    return not posted.replayed


def grant_welcome_bonus(session: Session, merchant_id: int, member_id: int) -> bool:
    """The welcome points of the rule in force (once per member). True if granted now."""
    return _grant(session, merchant_id, member_id, "welcome", f"welcome:{member_id}", None)


def birthday_today(birthday: date, today: date) -> bool:
    if birthday.month == 2 and birthday.day == 29 and not isleap(today.year):
        return today.month == 2 and today.day == 28
    return (birthday.month, birthday.day) == (today.month, today.day)


def _granted(session: Session, merchant_id: int, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        session.scalars(
            select(IdempotencyKey.key).where(
                IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key.in_(keys)
            )
        )
    )


def _merchants_with_points(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(ProgramRule.merchant_id).where(ProgramRule.kind == "points").distinct()
        )
    )


def grant_birthday_bonuses(session: Session, limit: int = 500) -> int:
    """Birthday points for every member whose birthday is today (merchant time); returns how
    many were granted now."""
    done = 0
    now = utcnow(session)
    for merchant_id in _merchants_with_points(session):
        today = now.astimezone(merchant_zone(session, merchant_id)).date()
        months = [today.month]
        rows = session.execute(
            select(Member.id, Member.birthday).where(
                Member.merchant_id == merchant_id,
                Member.registered_at.is_not(None),
                Member.merged_into_id.is_(None),
                extract("month", Member.birthday).in_(months),
                lunar.no_lunar_birthday(),
            )
        ).all()
        due = [r.id for r in rows if r.birthday and birthday_today(r.birthday, today)]
        keys = {f"birthday:{m}:{today.year}": m for m in due}
        # A lunar birthday is celebrated instead of the Gregorian one, once per lunar year
        # (ADR 1332).
        lunar_year = lunar.lunar_year_of(today)
        for member_id in session.scalars(
            select(Member.id).where(
                Member.merchant_id == merchant_id,
                Member.registered_at.is_not(None),
                Member.merged_into_id.is_(None),
                lunar.due_condition(today),
            )
        ):
            keys[f"lunar-birthday:{member_id}:{lunar_year}"] = member_id
        for key in set(keys) - _granted(session, merchant_id, list(keys)):
            if done >= limit:
                return done
            done += _grant(session, merchant_id, keys[key], "birthday", key, today.year)
    return done


def grant_welcome_bonuses(session: Session, limit: int = 500) -> int:
    """Welcome points for members who joined in the last week and have none yet."""
    done = 0
    since: datetime = utcnow(session) - WELCOME_LOOKBACK
    for merchant_id in _merchants_with_points(session):
        ids = list(
            session.scalars(
                select(Member.id).where(
                    Member.merchant_id == merchant_id,
                    Member.registered_at >= since,
                    Member.merged_into_id.is_(None),
                )
            )
        )
        keys = {f"welcome:{m}": m for m in ids}
        for key in set(keys) - _granted(session, merchant_id, list(keys)):
            if done >= limit:
                return done
            done += grant_welcome_bonus(session, merchant_id, keys[key])
    return done
