"""Like-for-like comparison (ADR 0505): the spans compared, and their figures on a built shop."""

from __future__ import annotations

from datetime import date

import pytest

from patron.analytics.facts import Scope
from patron.analytics.spans import Span, equal_spans, like_for_like, span_figures
from patron.analytics.suite import compute_suite
from tests.analytics.builders import Shop
from tests.analytics.conftest import duck_of


def d(s: str) -> date:
    return date.fromisoformat(s)


@pytest.mark.parametrize(
    ("start", "end", "period", "current", "previous"),
    [
        # This month up to the 7th against the 1st–7th of last month (end is exclusive).
        (
            "2025-12-01",
            "2026-12-08",
            "month",
            ("2026-12-01", "2026-12-08"),
            ("2026-11-01", "2026-11-08"),
        ),
        # A whole month against the whole month before, whatever their lengths.
        (
            "2026-01-01",
            "2026-04-01",
            "month",
            ("2026-03-01", "2026-04-01"),
            ("2026-02-01", "2026-03-01"),
        ),
        # March 1–30 against February 1–28: the days February does not have are cut off.
        (
            "2026-01-01",
            "2026-03-31",
            "month",
            ("2026-03-01", "2026-03-31"),
            ("2026-02-01", "2026-03-01"),
        ),
        # March 30–31 alone (the window starts on the 30th) against February's last day.
        (
            "2026-03-30",
            "2026-04-01",
            "month",
            ("2026-03-30", "2026-04-01"),
            ("2026-02-28", "2026-03-01"),
        ),
        # A window starting mid-month: the 10th–20th against the 10th–20th.
        (
            "2026-05-10",
            "2026-05-21",
            "month",
            ("2026-05-10", "2026-05-21"),
            ("2026-04-10", "2026-04-21"),
        ),
        # ISO weeks: Monday–Wednesday against the Monday–Wednesday before.
        (
            "2026-01-05",
            "2026-12-10",
            "week",
            ("2026-12-07", "2026-12-10"),
            ("2026-11-30", "2026-12-03"),
        ),
        (
            "2026-01-05",
            "2026-12-14",
            "week",
            ("2026-12-07", "2026-12-14"),
            ("2026-11-30", "2026-12-07"),
        ),
    ],
)
def test_like_for_like_spans(
    start: str,
    end: str,
    period: str,
    current: tuple[str, str],
    previous: tuple[str, str],
) -> None:
    cur, prev = like_for_like(d(start), d(end), period)  # type: ignore[arg-type]
    assert (cur.start, cur.end) == (d(current[0]), d(current[1]))
    assert (prev.start, prev.end) == (d(previous[0]), d(previous[1]))
    # Retention is measured on the whole period before each span.
    assert cur.base_start == prev.base_end
    assert cur.base_start < cur.base_end <= cur.start
    assert prev.base_end <= prev.start


def test_equal_spans_for_the_overview() -> None:
    cur, prev = equal_spans(d("2026-12-07"), 30)
    assert (cur.start, cur.last, prev.start, prev.last) == (
        d("2026-11-08"),
        d("2026-12-07"),
        d("2026-10-09"),
        d("2026-11-07"),
    )
    assert (cur.base_start, cur.base_end) == (prev.start, prev.end)


def shop() -> Shop:
    s = Shop()
    for m in (1, 2, 3, 4):
        s.member(m)
    s.order(1, "2026-10-15 10:00", 1000)  # October: member 1
    s.order(2, "2026-10-20 10:00", 800)  # October: member 2
    s.order(1, "2026-11-03 10:00", 400)  # in Nov 1–7: member 1 again
    s.order(3, "2026-11-05 10:00", 600)  # in Nov 1–7: member 3, new
    s.order(2, "2026-11-20 10:00", 5000)  # November, after the 7th: not compared
    s.order(4, "2026-11-25 10:00", 700)  # November, after the 7th
    s.order(2, "2026-12-02 10:00", 300)  # in Dec 1–7
    s.order(2, "2026-12-04 10:00", 200)  # in Dec 1–7 (member 2 twice)
    s.order(None, "2026-12-06 10:00", 100)  # anonymous
    return s


def test_span_figures_compare_the_same_days() -> None:
    con = duck_of(shop())
    cur, prev = like_for_like(d("2026-01-01"), d("2026-12-08"), "month")
    scope = Scope(1, d("2026-01-01"), d("2026-12-08"))
    rows = con.execute(span_figures(con, scope, [cur, prev])).set_index("span")
    now, before = rows.loc[0], rows.loc[1]
    # Dec 1–7: member 2 twice (300 + 200, both repeat purchases) and an anonymous 100.
    assert (now.orders, now.customers, now.net_revenue_minor) == (3, 1, 600)
    assert now.repurchase_rate == 1.0
    assert (now.repeat_revenue_minor, now.repeat_revenue_share) == (500, 500 / 600)
    # Retention: November's customers 1, 2, 3, 4; only member 2 bought in Dec 1–7.
    assert (now.base_customers, now.retained_customers, now.retention_rate) == (4, 1, 0.25)
    assert now.active_members == 1
    # Nov 1–7 (not the whole of November): member 1 (400, repeat) and member 3 (600, new).
    assert (before.orders, before.customers, before.net_revenue_minor) == (2, 2, 1000)
    assert before.repurchase_rate == 0.0
    assert (before.repeat_revenue_minor, before.repeat_revenue_share) == (400, 0.4)
    assert before.returning_revenue_share == 0.4  # member 1 was acquired in October
    # October's customers 1 and 2: member 1 came back in Nov 1–7.
    assert (before.base_customers, before.retained_customers, before.retention_rate) == (2, 1, 0.5)


def test_suite_carries_the_comparison_with_its_days() -> None:
    suite = compute_suite(duck_of(shop()), 1, d("2026-01-01"), d("2026-12-08"))
    c = suite["comparison"]
    assert c[["span", "start", "last", "customers", "net_revenue_minor"]].values.tolist() == [
        [0, d("2026-12-01"), d("2026-12-07"), 1, 600],
        [1, d("2026-11-01"), d("2026-11-07"), 2, 1000],
    ]


def test_span_dataclass_last_day() -> None:
    assert Span(d("2026-12-01"), d("2026-12-08"), d("2026-11-01"), d("2026-12-01")).last == d(
        "2026-12-07"
    )
