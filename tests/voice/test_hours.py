"""Business hours: elapsed opening time across a weekend, in the merchant's timezone, across a
daylight-saving change (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from patron.core.errors import InvalidInput
from patron.voice.hours import DEFAULT_HOURS, business_seconds, check_hours, timer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(*args: int, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def test_friday_evening_to_monday_morning_counts_only_opening_hours() -> None:
    # Friday 13 March 2026 17:00 → Monday 16 March 10:30, Shanghai: 60 + 90 minutes.
    start, end = _local(2026, 3, 13, 17, 0), _local(2026, 3, 16, 10, 30)
    assert business_seconds(start, end, SHANGHAI, DEFAULT_HOURS) == 150 * 60
    # The same instants read in London hours would be Friday 09:00 → Monday 02:30: 9 hours.
    london = ZoneInfo("Europe/London")
    assert business_seconds(start, end, london, DEFAULT_HOURS) == 9 * 3600
    # A whole week from Monday 00:00: five days of nine hours.
    assert business_seconds(_local(2026, 3, 9), _local(2026, 3, 16), SHANGHAI, DEFAULT_HOURS) == (
        45 * 3600
    )
    # Saturday to Sunday: nothing; reversed: nothing.
    assert (
        business_seconds(_local(2026, 3, 14, 9), _local(2026, 3, 15, 18), SHANGHAI, DEFAULT_HOURS)
        == 0
    )
    assert business_seconds(end, start, SHANGHAI, DEFAULT_HOURS) == 0


def test_a_day_with_a_clock_change_counts_the_hours_that_passed() -> None:
    london = ZoneInfo("Europe/London")
    sunday_hours = {"6": ["00:30", "03:30"]}  # Sunday 29 March 2026: 01:00 becomes 02:00
    start, end = _local(2026, 3, 28, zone=london), _local(2026, 3, 30, zone=london)
    assert business_seconds(start, end, london, sunday_hours) == 2 * 3600


def test_timer_breaches_after_its_target() -> None:
    opened = _local(2026, 3, 13, 17, 0)
    running = timer(opened, None, _local(2026, 3, 16, 10, 30), 240, SHANGHAI, DEFAULT_HOURS)
    assert (running.used_minutes, running.left_minutes, running.breached) == (150, 90, False)
    late = timer(opened, None, _local(2026, 3, 17, 10, 0), 240, SHANGHAI, DEFAULT_HOURS)
    assert (late.used_minutes, late.breached) == (60 + 540 + 60, True)
    stopped = timer(
        opened, _local(2026, 3, 16, 9, 15), _local(2026, 3, 20), 240, SHANGHAI, DEFAULT_HOURS
    )
    assert (stopped.used_minutes, stopped.stopped, stopped.breached) == (75, True, False)


def test_hours_are_checked() -> None:
    with pytest.raises(InvalidInput):
        check_hours({"0": ["18:00", "09:00"]})
    with pytest.raises(InvalidInput):
        check_hours({"0": ["9am", "18:00"]})
    assert check_hours({"0": ["9:00", "17:30"]})["0"] == ["09:00", "17:30"]
