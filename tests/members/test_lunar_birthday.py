"""Lunar birthdays (ADR 1332): exact Gregorian dates, leap months, a 30th day in a 29-day
month, and the birthday points, journeys and coupons firing on the lunar date on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.journeys import service, triggers
from patron.engagement.journeys.models import Journey, JourneyEnrolment
from patron.ledger.models import IdempotencyKey, JournalEntry
from patron.members import lunar
from patron.members.lunar import Lunar
from patron.programs.tasks import programs_schedule
from tests.conftest import Tenant
from tests.programs.helpers import POINTS, balances, new_member, typical_program


def test_mid_autumn_birthday_in_2026_and_2027() -> None:
    moon = Lunar(8, 15)
    assert lunar.in_lunar_year(2026, moon) == date(2026, 9, 25)
    assert lunar.in_lunar_year(2027, moon) == date(2027, 9, 15)
    assert lunar.next_on_or_after(date(2026, 9, 26), moon) == date(2027, 9, 15)
    assert lunar.next_on_or_after(date(2026, 9, 25), moon) == date(2026, 9, 25)
    assert lunar.is_today(moon, date(2026, 9, 25)) and not lunar.is_today(moon, date(2026, 9, 24))


def test_leap_month_birthdays() -> None:
    # 2025 has a leap sixth month (闰六月); 2026 has none.
    assert lunar.leap_month_of(2025) == 6 and lunar.leap_month_of(2026) == 0
    born_in_leap = Lunar(6, 10, leap=True)
    assert lunar.in_lunar_year(2025, born_in_leap) == date(2025, 8, 3)  # 闰六月初十
    assert lunar.in_lunar_year(2026, born_in_leap) == date(2026, 7, 23)  # 六月初十
    ordinary = Lunar(6, 10)
    assert lunar.in_lunar_year(2025, ordinary) == date(2025, 7, 4)  # once: not in the leap month
    assert not lunar.is_today(ordinary, date(2025, 8, 3))
    assert not lunar.is_today(born_in_leap, date(2025, 7, 4))


def test_thirtieth_day_in_a_29_day_month_is_the_29th() -> None:
    eve = Lunar(12, 30)
    # The twelfth month of lunar 2024 has 29 days: 除夕 is 12/29, 28 January 2025.
    assert lunar.in_lunar_year(2024, eve) == date(2025, 1, 28)
    # That of lunar 2025 has 30: 16 February 2026.
    assert lunar.in_lunar_year(2025, eve) == date(2026, 2, 16)
    assert lunar.due_on(date(2025, 1, 28)).matches(eve)
    assert lunar.due_on(date(2025, 1, 28)).matches(Lunar(12, 29))


def test_due_on_agrees_with_the_dates_through_2025() -> None:
    """The SQL side (:func:`lunar.due_on`) and the date side agree every day of a year with a
    leap month, for birthdays on the 1st, 29th and 30th, leap or not."""
    birthdays = [
        Lunar(m, d, leap) for m in range(1, 13) for d in (1, 29, 30) for leap in (False, True)
    ]
    day = date(2025, 1, 1)
    while day.year == 2025:
        due = lunar.due_on(day)
        for moon in birthdays:
            assert due.matches(moon) == lunar.is_today(moon, day), (day, moon)
        day += timedelta(days=1)


def test_check_refuses_impossible_dates() -> None:
    for month, day in ((0, 1), (13, 1), (1, 0), (1, 31)):
        with pytest.raises(Exception, match="lunar birthday"):
            lunar.check(month, day, False)


def test_birthday_points_on_the_lunar_birthday_once_a_lunar_year(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant, settings: Settings
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, points={**POINTS, "birthday_bonus": 88, "welcome_bonus": 0})
    # Gregorian birthday 25 September too: the lunar one is celebrated instead.
    moon_member = new_member(sessions, m, birthday=date(1990, 9, 25))
    sun_member = new_member(sessions, m, phone="+8613800000002", birthday=date(1990, 9, 25))
    with transaction(sessions) as s:
        lunar.set_lunar_birthday(s, m, moon_member, Lunar(8, 15))
    # 2026-09-25 02:00 UTC is 10:00 in Shanghai, 中秋 (lunar 8/15).
    clock.set(datetime(2026, 9, 25, 2, 0, tzinfo=UTC))
    programs_schedule(sessions, settings)
    programs_schedule(sessions, settings)
    assert balances(sessions, m, moon_member)["points"] == 88
    assert balances(sessions, m, sun_member)["points"] == 88
    # 2027: 25 September is the Gregorian member's; 15 September the lunar member's.
    clock.set(datetime(2027, 9, 15, 2, 0, tzinfo=UTC))
    programs_schedule(sessions, settings)
    assert balances(sessions, m, moon_member)["points"] == 176
    assert balances(sessions, m, sun_member)["points"] == 88
    clock.set(datetime(2027, 9, 25, 2, 0, tzinfo=UTC))
    programs_schedule(sessions, settings)
    assert balances(sessions, m, moon_member)["points"] == 176
    assert balances(sessions, m, sun_member)["points"] == 176
    with sessions() as s:
        keys = sorted(
            s.scalars(select(IdempotencyKey.key).where(IdempotencyKey.key.like("%birthday%")))
        )
        n = s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.reason_code == "birthday_bonus")
        )
    assert n == 4
    assert (
        f"lunar-birthday:{moon_member}:2026" in keys
        and f"lunar-birthday:{moon_member}:2027" in keys
    )
    assert f"birthday:{moon_member}:2026" not in keys


def test_birthday_journey_greets_on_the_lunar_birthday(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    moon_member = new_member(sessions, m, birthday=date(1990, 9, 25))
    with transaction(sessions) as s:
        lunar.set_lunar_birthday(s, m, moon_member, Lunar(8, 15))
        steps = [
            {
                "id": "greet",
                "type": "send",
                "channel": "in_app",
                "kind": "marketing",
                "topic": "birthday",
                "content": {"en": {"title": "Happy day", "body": "x"}},
            }
        ]
        j = service.create_journey(s, m, "D", {"trigger": {"date": "birthday"}, "steps": steps})
        service.switch(s, m, j.id, True)

    def tick(at: datetime) -> list[str]:
        clock.set(at)
        with transaction(sessions) as s:
            for journey in s.scalars(select(Journey)):
                journey.scheduled_at = None
        with transaction(sessions) as s:
            triggers.schedule(s)
        with sessions() as s:
            return sorted(s.scalars(select(JourneyEnrolment.enrolment_key)))

    assert tick(datetime(2027, 9, 25, 2, 0, tzinfo=UTC)) == []  # the Gregorian day: not greeted
    assert tick(datetime(2027, 9, 15, 2, 0, tzinfo=UTC)) == [f"{moon_member}:lunar-birthday:2027"]
