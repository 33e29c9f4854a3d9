"""Festival dates, computed by the ``holidays`` package (never hard-coded here).

Chinese festivals, including the lunar ones, come from ``holidays.China``; the Lantern Festival
(15th day of the first lunar month) is not a public holiday there, so it is the Spring Festival
plus 14 days (the first lunar month always has at least 29 days). Western festivals come from
``holidays.US`` with its unofficial category (Valentine's Day, Christmas Eve, Halloween …).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from holidays import country_holidays

# key → (calendar, the holiday's name in that calendar)
CHINESE = {
    "spring_festival": "Chinese New Year (Spring Festival)",
    "dragon_boat": "Dragon Boat Festival",
    "mid_autumn": "Mid-Autumn Festival",
    "qingming": "Tomb-Sweeping Day",
    "national_day": "National Day",
}
WESTERN = {
    "new_year": "New Year's Day",
    "valentines": "Valentine's Day",
    "mothers_day": "Mother's Day",
    "fathers_day": "Father's Day",
    "halloween": "Halloween",
    "christmas_eve": "Christmas Eve",
    "christmas": "Christmas Day",
}
FESTIVALS = frozenset({*CHINESE, *WESTERN, "lantern"})


@lru_cache(maxsize=64)
def _first(calendar: str, year: int, name: str) -> date | None:
    if calendar == "cn":
        table = country_holidays("CN", years=year)
    else:
        table = country_holidays("US", years=year, categories=("public", "unofficial"))
    days = sorted(d for d, n in table.items() if name in n.split("; "))
    return days[0] if days else None


def festival_date(festival: str, year: int) -> date | None:
    """The day of ``festival`` in ``year`` (None if the calendar has no such day that year)."""
    if festival == "lantern":
        spring = _first("cn", year, CHINESE["spring_festival"])
        return spring + timedelta(days=14) if spring else None
    if festival in CHINESE:
        return _first("cn", year, CHINESE[festival])
    if festival in WESTERN:
        return _first("us", year, WESTERN[festival])
    raise ValueError(f"unknown festival {festival!r}")
