"""The shop's calendar: how busy each day is, and which gifting season it belongs to.

Lunar festivals (Spring Festival, Dragon Boat, Mid-Autumn) come from the ``holidays`` package, so
the demo stays right in any year; Gregorian shopping days (Double 11, Christmas) are fixed dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

from patron.demo.catalogue import SEASONS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Multipliers of the daily buying rate (1.0 = an ordinary weekday).
WEEKDAY_FACTOR = (0.9, 0.9, 0.9, 0.95, 1.1, 1.3, 1.25)  # Monday … Sunday
SPRING_RUN_UP = (24, 2.8)  # days before Spring Festival, peak factor on the eve
SPRING_CLOSED = (7, 0.45)  # the holiday week itself is quiet
MID_AUTUMN_RUN_UP = (28, 2.2)
DRAGON_BOAT_RUN_UP = (10, 1.3)
DOUBLE_11 = (11, 3.0)  # Nov 1-11, peak on the 11th
CHRISTMAS = (10, 1.25)
SUMMER_SLUMP = 0.85  # July and August: hot weather, fewer tea gifts

_FESTIVAL_NAMES = {
    "spring": "Chinese New Year (Spring Festival)",
    "mid-autumn": "Mid-Autumn Festival",
    "dragon-boat": "Dragon Boat Festival",
}


def festival_dates(years: range) -> dict[str, list[date]]:
    """First day of each lunar festival in ``years``, from the holidays package."""
    calendar = holidays.country_holidays("CN", years=list(years), language="en_US")
    found: dict[str, list[date]] = {key: [] for key in _FESTIVAL_NAMES}
    for day, name in sorted(calendar.items()):
        for key, wanted in _FESTIVAL_NAMES.items():
            if name == wanted and all(d.year != day.year for d in found[key]):
                found[key].append(day)
    for key, days in found.items():
        if len(days) != len(years):
            raise RuntimeError(f"holidays package gave no {key} date for some of {list(years)}")
    return found


@dataclass(frozen=True)
class ShopCalendar:
    """The demo period day by day (local dates of the merchant)."""

    first_day: date
    days: int
    start_utc: datetime  # local midnight of first_day, in UTC
    intensity: FloatArray  # buying rate factor per day, mean 1.0
    cumulative: FloatArray  # len days + 1: integral of intensity ("shop time")
    season: IntArray  # index into catalogue.SEASONS per day
    utc_offset_seconds: IntArray  # merchant's UTC offset per day

    def warp(self, t: FloatArray) -> FloatArray:
        """Calendar days since the start → shop time (busy days count more)."""
        return np.interp(t, np.arange(self.days + 1, dtype=np.float64), self.cumulative)

    def unwarp(self, w: FloatArray) -> FloatArray:
        """Shop time → calendar days since the start."""
        return np.interp(w, self.cumulative, np.arange(self.days + 1, dtype=np.float64))

    def day_of(self, moment: datetime) -> int:
        return (moment.astimezone(ZoneInfo("UTC")) - self.start_utc).days


def _run_up(factor: FloatArray, days: list[date], first: date, span: int, peak: float) -> None:
    """Raise the rate over ``span`` days before each festival, linearly up to ``peak``."""
    for festival in days:
        for back in range(1, span + 1):
            i = (festival - first).days - back
            if 0 <= i < len(factor):
                level = 1.0 + (peak - 1.0) * (span - back + 1) / span
                factor[i] = max(factor[i], level)


def _mark_season(season: IntArray, days: list[date], first: date, span: int, name: str) -> None:
    for festival in days:
        for back in range(span + 1):
            i = (festival - first).days - back
            if 0 <= i < len(season):
                season[i] = SEASONS.index(name)


def build_calendar(now: datetime, months: int, timezone: str) -> ShopCalendar:
    """The calendar of the ``months`` months that end at ``now``."""
    zone = ZoneInfo(timezone)
    last = now.astimezone(zone).date()
    month_index = last.year * 12 + last.month - 1 - months
    first = date(month_index // 12, month_index % 12 + 1, min(last.day, 28))
    days = (last - first).days + 1
    dates = [first + timedelta(days=i) for i in range(days)]
    festivals = festival_dates(range(first.year, last.year + 2))
    factor = np.ones(days)
    season = np.zeros(days, dtype=np.int64)
    _run_up(factor, festivals["spring"], first, *SPRING_RUN_UP)
    _run_up(factor, festivals["mid-autumn"], first, *MID_AUTUMN_RUN_UP)
    _run_up(factor, festivals["dragon-boat"], first, *DRAGON_BOAT_RUN_UP)
    _mark_season(season, festivals["spring"], first, SPRING_RUN_UP[0] + 6, "spring")
    _mark_season(season, festivals["mid-autumn"], first, MID_AUTUMN_RUN_UP[0] + 7, "mid-autumn")
    _mark_season(season, festivals["dragon-boat"], first, DRAGON_BOAT_RUN_UP[0] + 4, "dragon-boat")
    for i, d in enumerate(dates):
        if d.month == 11 and d.day <= DOUBLE_11[0]:
            factor[i] = max(factor[i], 1.0 + (DOUBLE_11[1] - 1.0) * (d.day / 11) ** 3)
            season[i] = SEASONS.index("double-11")
        if d.month == 12 and 25 - CHRISTMAS[0] <= d.day <= 25:
            factor[i] = max(factor[i], CHRISTMAS[1])
            season[i] = SEASONS.index("christmas")
        if d.month in (7, 8):
            factor[i] *= SUMMER_SLUMP
        factor[i] *= WEEKDAY_FACTOR[d.weekday()]
    for spring in festivals["spring"]:
        for ahead in range(SPRING_CLOSED[0]):
            i = (spring - first).days + ahead
            if 0 <= i < days:
                factor[i] = SPRING_CLOSED[1] * WEEKDAY_FACTOR[dates[i].weekday()]
    factor /= factor.mean()
    cumulative = np.concatenate(([0.0], np.cumsum(factor)))
    start_utc = datetime.combine(first, time(0), zone).astimezone(UTC)
    offsets = np.array(
        [int(datetime.combine(d, time(12), zone).utcoffset().total_seconds()) for d in dates],  # type: ignore[union-attr]
        dtype=np.int64,
    )
    return ShopCalendar(first, days, start_utc, factor, cumulative, season, offsets)
