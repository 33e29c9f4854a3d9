"""Chart geometry: no axis label runs off the canvas or into its neighbour, in either language.

Widths are the charts' own estimate (:func:`patron.analytics.charts.text_width`: CJK one em,
the rest 0.6 em), checked against the browser in the screenshots (docs/analytics.md)."""

from __future__ import annotations

import html
import itertools
import re
from datetime import date, timedelta

import pytest
from babel.dates import format_skeleton

from patron.analytics import charts
from patron.analytics.charts import PAD_B, H, Series, W, text_width
from patron.i18n import Formatter

TEXT = re.compile(r'<text x="([-\d.]+)" y="([-\d.]+)" text-anchor="(\w+)"[^>]*>([^<]*)</text>')


def texts(svg: str) -> list[tuple[float, float, str, str]]:
    return [(float(x), float(y), a, html.unescape(t)) for x, y, a, t in TEXT.findall(svg)]


def extent(x: float, anchor: str, label: str) -> tuple[float, float]:
    w = text_width(label)
    return {"start": (x, x + w), "end": (x - w, x), "middle": (x - w / 2, x + w / 2)}[anchor]


def months(locale: str, n: int) -> list[str]:
    first = date(2025, 1, 1)
    return [
        str(
            format_skeleton(
                "yMMM",
                date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1),
                locale=locale,
            )
        )
        for i in range(n)
    ]


def weeks(locale: str, n: int) -> list[str]:
    return [
        str(format_skeleton("MMMd", date(2025, 1, 6) + timedelta(weeks=i), locale=locale))
        for i in range(n)
    ]


@pytest.mark.parametrize("locale", ["en_GB", "zh_Hans_CN"])
@pytest.mark.parametrize("kind", ["months", "weeks"])
def test_x_labels_never_overlap(locale: str, kind: str) -> None:
    labels = months(locale, 24) if kind == "months" else weeks(locale, 53)
    svg = charts.line_chart("t", labels, [Series("a", [float(i) for i in range(len(labels))])])
    axis = sorted(
        (extent(x, a, t), t) for x, y, a, t in texts(svg) if y == pytest.approx(H - PAD_B + 18)
    )
    assert len(axis) >= 4
    assert axis[-1][1] == labels[-1]  # the last period is always named
    for (a, _ta), (b, _tb) in itertools.pairwise(axis):
        assert a[1] + 4 <= b[0], (a, b)
    assert axis[0][0][0] >= 0 and axis[-1][0][1] <= W + 1


@pytest.mark.parametrize("currency", ["CNY", "JPY", "KWD"])
def test_y_labels_fit_in_the_margin(currency: str) -> None:
    money = Formatter("en", currency).money
    svg = charts.line_chart(
        "t", ["a", "b"], [Series("s", [1_234_567_00.0, 98_765_43.0])], lambda v: money(round(v))
    )
    ends = [(x, t) for x, _y, a, t in texts(svg) if a == "end"]
    assert len(ends) == 5
    for x, t in ends:
        assert x - text_width(t) >= 0, t
    bars = charts.bar_chart("t", ["a"], [Series("s", [9_999_999.0])], lambda v: money(round(v)))
    for x, _y, a, t in texts(bars):
        if a == "end":
            assert x - text_width(t) >= 0, t


def test_bar_rows_keep_labels_and_notes_on_the_canvas() -> None:
    labels = ["Potential loyalists", "Can't lose them", "流失风险很高的老顾客"]
    notes = ["CN¥1,234,567.89", "CN¥12.00", "¥999,999.00"]
    svg = charts.hbar_chart("t", labels, [120.0, 3.0, 45.0], notes=notes)
    for x, _y, a, t in texts(svg):
        lo, hi = extent(x, a, t)
        assert lo >= 0 and hi <= W + 1, t


def test_legend_entries_do_not_overlap_in_chinese() -> None:
    names = ["期间内活跃", "平均每日活跃", "用户 → 顾客"]
    svg = charts.line_chart("t", ["1月", "2月"], [Series(n, [1.0, 2.0]) for n in names])
    legend = sorted(extent(x, a, t) for x, y, a, t in texts(svg) if y == 11)
    assert len(legend) == 3
    for a, b in itertools.pairwise(legend):
        assert a[1] < b[0]
