"""Birthdays in the Chinese lunar calendar (ADR 1332), with the ``lunardate`` library.

A lunar birthday is a lunar month (1–12), day (1–30) and whether the month is a leap (闰)
month. It is celebrated once in each lunar year, on the Gregorian date that lunar date falls on:
lunar 8/15 is 25 September 2026 and 15 September 2027. Two rules make every year have one:

- **Day 30 in a short month.** A lunar month has 29 or 30 days; in a year whose month has 29,
  a 30th-day birthday is celebrated on the 29th (the month's last day), as 29 February is on
  28 February.
- **Leap months.** A birthday in a leap month is celebrated in that leap month in the years
  that have it, and in the ordinary month of the same number in the years that do not (most
  years). A birthday in an ordinary month is celebrated in the ordinary month only, never a
  second time in a leap month of the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lunardate import LunarDate
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.members.models import Member, MemberLunarBirthday


@dataclass(frozen=True)
class Lunar:
    month: int
    day: int
    leap: bool = False


def check(month: int, day: int, leap: bool) -> Lunar:
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise InvalidInput(
            "a lunar birthday is a month 1–12 and a day 1–30", code="invalid_lunar_birthday"
        )
    return Lunar(month, day, leap)


def _exists(year: int, month: int, day: int, leap: bool) -> bool:
    try:
        LunarDate(year, month, day, leap).to_solar_date()
    except ValueError:
        return False
    return True


def leap_month_of(year: int) -> int:
    """The leap month of a lunar year (0: none)."""
    return int(LunarDate.leap_month_for_year(year) or 0)


def celebrated(year: int, birthday: Lunar) -> tuple[int, int, bool]:
    """The lunar (month, day, leap) the birthday is celebrated on in lunar ``year``."""
    leap = birthday.leap and leap_month_of(year) == birthday.month
    day = birthday.day
    if not _exists(year, birthday.month, day, leap):
        day = 29  # a 30th-day birthday in a 29-day month
    return birthday.month, day, leap


def in_lunar_year(year: int, birthday: Lunar) -> date:
    """The Gregorian date of the birthday in lunar ``year``."""
    month, day, leap = celebrated(year, birthday)
    found: date = LunarDate(year, month, day, leap).to_solar_date()
    return found


def lunar_year_of(day: date) -> int:
    return int(LunarDate.from_solar_date(day.year, day.month, day.day).year)


def is_today(birthday: Lunar, today: date) -> bool:
    return in_lunar_year(lunar_year_of(today), birthday) == today


def next_on_or_after(today: date, birthday: Lunar) -> date:
    """The first celebration on or after ``today``."""
    year = lunar_year_of(today)
    for candidate_year in (year - 1, year, year + 1):
        found = in_lunar_year(candidate_year, birthday)
        if found >= today:
            return found
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Due:
    """The lunar birthdays celebrated on one day: this month, these days, and which of leap
    and ordinary birthdays (None: both)."""

    month: int
    days: tuple[int, ...]
    leap: bool | None

    def matches(self, birthday: Lunar) -> bool:
        return (
            birthday.month == self.month
            and birthday.day in self.days
            and (self.leap is None or birthday.leap == self.leap)
        )


def due_on(today: date) -> Due:
    now = LunarDate.from_solar_date(today.year, today.month, today.day)
    year, month, day, in_leap = int(now.year), int(now.month), int(now.day), bool(now.is_leap_month)
    days = (day, 30) if day == 29 and not _exists(year, month, 30, in_leap) else (day,)
    if in_leap:  # a leap month: only birthdays born in a leap month
        return Due(month, days, True)
    if leap_month_of(year) == month:  # its leap twin comes later: leap birthdays wait for it
        return Due(month, days, False)
    return Due(month, days, None)


def due_condition(today: date) -> ColumnElement[bool]:
    """Members whose lunar birthday is celebrated ``today`` (SQL, on ``members``)."""
    due = due_on(today)
    row = MemberLunarBirthday
    match = and_(row.lunar_month == due.month, row.lunar_day.in_(due.days))
    if due.leap is not None:
        match = and_(match, row.leap_month.is_(due.leap))
    return Member.id.in_(select(row.member_id).where(row.merchant_id == Member.merchant_id, match))


def no_lunar_birthday() -> ColumnElement[bool]:
    """Members who celebrate by the Gregorian calendar (no lunar birthday)."""
    return ~Member.id.in_(
        select(MemberLunarBirthday.member_id).where(
            MemberLunarBirthday.merchant_id == Member.merchant_id
        )
    )


def lunar_of(session: Session, merchant_id: int, member_id: int) -> Lunar | None:
    row = _row(session, merchant_id, member_id)
    return Lunar(row.lunar_month, row.lunar_day, row.leap_month) if row else None


def _row(session: Session, merchant_id: int, member_id: int) -> MemberLunarBirthday | None:
    return session.scalar(
        select(MemberLunarBirthday).where(
            MemberLunarBirthday.merchant_id == merchant_id,
            MemberLunarBirthday.member_id == member_id,
        )
    )


def set_lunar_birthday(
    session: Session, merchant_id: int, member_id: int, birthday: Lunar | None
) -> None:
    """Set (or, with None, remove) the member's lunar birthday."""
    row = _row(session, merchant_id, member_id)
    if birthday is None:
        if row is not None:
            session.delete(row)
            session.flush()
        return
    birthday = check(birthday.month, birthday.day, birthday.leap)
    if row is None:
        row = MemberLunarBirthday(merchant_id=merchant_id, member_id=member_id)
        session.add(row)
    row.lunar_month, row.lunar_day, row.leap_month = birthday.month, birthday.day, birthday.leap
    row.updated_at = utcnow(session)
    session.flush()
