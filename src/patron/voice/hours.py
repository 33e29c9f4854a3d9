"""Business hours and the case timers (ADR 1502).

Elapsed business time between two instants is computed exactly: each local calendar day of the
merchant's timezone between them contributes the overlap of its opening hours with the
interval. The overlap is measured on aware datetimes converted to UTC, so a day that is 23 or
25 hours long (a daylight-saving change) counts what the clock on the wall shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.voice.models import ServiceSettings

# Monday = 0 … Sunday = 6; a day missing (or null) is closed.
DEFAULT_HOURS: dict[str, list[str] | None] = {
    "0": ["09:00", "18:00"],
    "1": ["09:00", "18:00"],
    "2": ["09:00", "18:00"],
    "3": ["09:00", "18:00"],
    "4": ["09:00", "18:00"],
    "5": None,
    "6": None,
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "hours": DEFAULT_HOURS,
    # Business minutes before a first response, and before a resolution, are due.
    "first_response_minutes": 240,
    "resolution_minutes": 3 * 9 * 60,
    # A rating at or below this opens a case.
    "low_rating": 2,
    "max_photos": 4,
    "max_photo_bytes": 5 * 1024 * 1024,
}


def service_settings(session: Session, merchant_id: int) -> dict[str, Any]:
    row = session.scalar(select(ServiceSettings).where(ServiceSettings.merchant_id == merchant_id))
    return {**DEFAULT_SETTINGS, **(row.settings if row else {})}


def _hhmm(text: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError) as exc:
        raise InvalidInput("hours are HH:MM", code="invalid_hours") from exc


def check_hours(hours: dict[str, Any]) -> dict[str, list[str] | None]:
    """Opening hours per weekday, checked: opening before closing, HH:MM."""
    clean: dict[str, list[str] | None] = {}
    for day in range(7):
        span = hours.get(str(day))
        if not span:
            clean[str(day)] = None
            continue
        start, end = _hhmm(span[0]), _hhmm(span[1])
        if start >= end:
            raise InvalidInput("a day opens before it closes", code="invalid_hours")
        clean[str(day)] = [start.strftime("%H:%M"), end.strftime("%H:%M")]
    return clean


def save_settings(session: Session, merchant_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**service_settings(session, merchant_id), **changes}
    merged["hours"] = check_hours(merged["hours"])
    for key in ("first_response_minutes", "resolution_minutes", "max_photos", "max_photo_bytes"):
        if type(merged[key]) is not int or merged[key] < 1:
            raise InvalidInput(f"{key} must be a whole number above zero", code="invalid_setting")
    if type(merged["low_rating"]) is not int or not 0 <= merged["low_rating"] <= 5:
        raise InvalidInput("low_rating is 0 to 5", code="invalid_setting")
    row = session.scalar(select(ServiceSettings).where(ServiceSettings.merchant_id == merchant_id))
    if row is None:
        row = ServiceSettings(merchant_id=merchant_id, settings={})
        session.add(row)
    row.settings = merged
    row.updated_at = utcnow(session)
    session.flush()
    return merged


def business_seconds(start: datetime, end: datetime, zone: ZoneInfo, hours: dict[str, Any]) -> int:
    """Whole seconds of opening hours between ``start`` and ``end`` (0 if end ≤ start)."""
    if end <= start:
        return 0
    total = timedelta()
    day: date = start.astimezone(zone).date()
    last: date = end.astimezone(zone).date()
    while day <= last:
        span = hours.get(str(day.weekday()))
        if span:
            opens = datetime.combine(day, _hhmm(span[0]), zone).astimezone(UTC)
            closes = datetime.combine(day, _hhmm(span[1]), zone).astimezone(UTC)
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds())


@dataclass(frozen=True)
class Timer:
    """One timer of a case: business minutes used of the target, and whether it is breached
    (still running past the target, or stopped after it)."""

    used_minutes: int
    target_minutes: int
    stopped: bool

    @property
    def breached(self) -> bool:
        return self.used_minutes > self.target_minutes

    @property
    def left_minutes(self) -> int:
        return self.target_minutes - self.used_minutes


def timer(
    opened_at: datetime,
    stopped_at: datetime | None,
    now: datetime,
    target_minutes: int,
    zone: ZoneInfo,
    hours: dict[str, Any],
) -> Timer:
    end = stopped_at or now
    used = business_seconds(opened_at, end, zone, hours) // 60
    return Timer(used, target_minutes, stopped_at is not None)
