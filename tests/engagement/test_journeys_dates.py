"""Date triggers: birthdays on the member's local day (never a day early), lunar festivals on
their date in two years, straight from the holidays package."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement.journeys import service, triggers
from patron.engagement.journeys.festivals import festival_date
from patron.engagement.journeys.models import Journey, JourneyEnrolment
from tests.conftest import Tenant
from tests.engagement.conftest import add_member

GREET = [
    {
        "id": "greet",
        "type": "send",
        "channel": "in_app",
        "kind": "marketing",
        "topic": "birthday",
        "content": {"en": {"title": "Happy day", "body": "x"}},
    }
]


def _journey(sessions: sessionmaker[Session], tenant: Tenant, trigger: dict[str, object]) -> None:
    with transaction(sessions) as s:
        j = service.create_journey(s, tenant.merchant_id, "D", {"trigger": trigger, "steps": GREET})
        service.switch(s, tenant.merchant_id, j.id, True)


def _tick(sessions: sessionmaker[Session], clock: FrozenClock, at: datetime) -> list[str]:
    """Run the scheduler at ``at`` (its 15-minute period forgotten) → enrolment keys so far."""
    clock.set(at)
    with transaction(sessions) as s:
        for journey in s.scalars(select(Journey)):
            journey.scheduled_at = None
    with transaction(sessions) as s:
        triggers.schedule(s)
    with sessions() as s:
        return sorted(s.scalars(select(JourneyEnrolment.enrolment_key)))


def test_birthday_fires_on_the_local_day_in_each_time_zone(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    shanghai = add_member(
        sessions, tenant.merchant_id, birthday=date(1990, 6, 15), timezone="Asia/Shanghai"
    )
    new_york = add_member(
        sessions, tenant.merchant_id, birthday=date(1985, 6, 15), timezone="America/New_York"
    )
    local = add_member(sessions, tenant.merchant_id, birthday=date(1985, 6, 16))
    _journey(sessions, tenant, {"date": "birthday"})
    # 14 June 15:59 UTC = 23:59 in Shanghai (UTC+8) and 11:59 in New York (UTC-4 in June).
    assert _tick(sessions, clock, datetime(2026, 6, 14, 15, 59, tzinfo=UTC)) == []
    # 16:00 UTC: 15 June 00:00 in Shanghai; still the 14th in New York.
    assert _tick(sessions, clock, datetime(2026, 6, 14, 16, 0, tzinfo=UTC)) == [
        f"{shanghai}:birthday:2026"
    ]
    # 15 June 03:59 UTC = 23:59 on the 14th in New York: not yet.
    assert _tick(sessions, clock, datetime(2026, 6, 15, 3, 59, tzinfo=UTC)) == [
        f"{shanghai}:birthday:2026"
    ]
    # 04:00 UTC: midnight of the 15th in New York.
    assert _tick(sessions, clock, datetime(2026, 6, 15, 4, 0, tzinfo=UTC)) == sorted(
        [f"{shanghai}:birthday:2026", f"{new_york}:birthday:2026"]
    )
    # Later the same day: nobody twice. The next day (merchant's zone for a member without
    # one): only the member born on the 16th.
    assert len(_tick(sessions, clock, datetime(2026, 6, 15, 12, 0, tzinfo=UTC))) == 2
    assert _tick(sessions, clock, datetime(2026, 6, 16, 12, 0, tzinfo=UTC)) == sorted(
        [f"{shanghai}:birthday:2026", f"{new_york}:birthday:2026", f"{local}:birthday:2026"]
    )


def test_holidays_package_gives_the_lunar_dates() -> None:
    assert festival_date("mid_autumn", 2026) == date(2026, 9, 25)
    assert festival_date("mid_autumn", 2027) == date(2027, 9, 15)
    assert festival_date("spring_festival", 2026) == date(2026, 2, 17)
    assert festival_date("spring_festival", 2027) == date(2027, 2, 6)
    assert festival_date("lantern", 2026) == date(2026, 3, 3)
    assert festival_date("valentines", 2027) == date(2027, 2, 14)


@pytest.mark.parametrize(
    ("festival", "days"),
    [
        ("mid_autumn", (date(2026, 9, 25), date(2027, 9, 15))),
        ("spring_festival", (date(2026, 2, 17), date(2027, 2, 6))),
    ],
)
def test_lunar_festival_fires_on_its_date_in_two_years(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    festival: str,
    days: tuple[date, date],
) -> None:
    member = add_member(sessions, tenant.merchant_id)  # the merchant's zone: Asia/Shanghai
    _journey(sessions, tenant, {"date": "festival", "festival": festival})
    first, second = days
    keys = [f"{member}:{festival}:{first.year}"]
    # The eve at 15:59 UTC is 23:59 in Shanghai: not yet; 16:00 UTC is midnight of the day.
    assert _tick(sessions, clock, _utc(first, -1, 15, 59)) == []
    assert _tick(sessions, clock, _utc(first, -1, 16, 0)) == keys
    assert _tick(sessions, clock, _utc(second, -1, 15, 59)) == keys
    keys.append(f"{member}:{festival}:{second.year}")
    assert _tick(sessions, clock, _utc(second, -1, 16, 0)) == keys


def _utc(day: date, offset_days: int, hour: int, minute: int) -> datetime:
    return datetime.combine(day + timedelta(days=offset_days), time(hour, minute), UTC)
