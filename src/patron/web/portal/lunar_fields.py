"""The lunar birthday fields of the sign-up and profile forms: month and day names in the
reader's language (正月…腊月, 初一…三十 in Chinese), and reading what was chosen."""

from __future__ import annotations

from fastapi import Request

from patron.core.errors import PatronError
from patron.members import lunar
from patron.web.rendering import resolve_locale, translate

_ZH_MONTHS = (
    "正月",
    "二月",
    "三月",
    "四月",
    "五月",
    "六月",
    "七月",
    "八月",
    "九月",
    "十月",
    "冬月",
    "腊月",
)
_ZH_DIGITS = "一二三四五六七八九十"


def _zh_day(day: int) -> str:
    if day <= 10:
        return "初" + _ZH_DIGITS[day - 1]
    if day < 20:
        return "十" + _ZH_DIGITS[day - 11]
    if day == 20:
        return "二十"
    if day < 30:
        return "廿" + _ZH_DIGITS[day - 21]
    return "三十"


def _chinese(request: Request) -> bool:
    return resolve_locale(request).startswith("zh")


def month_name(request: Request, month: int, leap: bool = False) -> str:
    if _chinese(request):
        return ("闰" if leap else "") + _ZH_MONTHS[month - 1]
    if leap:
        return translate(request, "Leap month %(month)s", month=month)
    return translate(request, "Month %(month)s", month=month)


def day_name(request: Request, day: int) -> str:
    return _zh_day(day) if _chinese(request) else translate(request, "Day %(day)s", day=day)


def choices(request: Request) -> dict[str, list[tuple[int, str]]]:
    return {
        "months": [(m, month_name(request, m)) for m in range(1, 13)],
        "days": [(d, day_name(request, d)) for d in range(1, 31)],
    }


def shown(request: Request, birthday: lunar.Lunar | None) -> str:
    if birthday is None:
        return ""
    month = month_name(request, birthday.month, birthday.leap)
    day = day_name(request, birthday.day)
    return f"{month}{day}" if _chinese(request) else f"{month}, {day}"


def read(month: str, day: str, leap: str) -> lunar.Lunar | None:
    """The chosen lunar birthday; None when no month and day were chosen. Half a date or a day
    out of range is :class:`PatronError` ``invalid_lunar_birthday``."""
    if not month.strip() and not day.strip():
        return None
    try:
        return lunar.check(int(month), int(day), leap == "on")
    except ValueError as exc:
        raise PatronError("bad lunar birthday", code="invalid_lunar_birthday") from exc
