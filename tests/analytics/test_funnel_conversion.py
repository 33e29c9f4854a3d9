"""Conversion between funnel stages stays within 0–100% (ADR 0504).

A step's rate in a period is: of the members in stage s when the period opened, the share in
stage t or further along when it closed. Checked on a hand-built history (the old definition,
moves during the period / members at its start, gave 300% there), on the generated shop, and
on random histories (hypothesis) against a brute-force walk through each member's events.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from bench.analytics_data import generate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.analytics import funnel
from patron.analytics.engines import connect_duckdb, load_tables
from patron.analytics.facts import Period, Scope, period_start
from patron.analytics.suite import compute_suite
from tests.analytics.builders import Shop
from tests.analytics.conftest import duck_of

STAGES = funnel.STAGES
JAN, FEB, MAR, APR = (date(2026, m, 1) for m in (1, 2, 3, 4))


def test_members_arriving_during_the_period_do_not_push_a_rate_over_100() -> None:
    s = Shop()
    # One user when January opens; three more arrive during January and all four buy.
    s.member(1, created="2025-12-10", stage="customer")
    s.move(1, "user", "customer", "2026-01-20")
    for m in (2, 3, 4):
        s.member(m, created="2026-01-05", stage="customer")
        s.move(m, None, "user", "2026-01-05")
        s.move(m, "user", "customer", "2026-01-25")
    suite = compute_suite(duck_of(s), 1, JAN, FEB)
    conv = suite["funnel_conversion"].set_index(["from_stage", "to_stage"])
    step = conv.loc[("user", "customer")]
    # The old definition: 4 moves user→customer / 1 user at the start = 400%.
    assert step.conversion_rate == 1.0
    assert (step.at_start, step.converted) == (1, 1)


def test_skipping_a_stage_counts_as_reaching_it() -> None:
    s = Shop()
    s.member(1, created="2025-12-01", stage="fan")
    s.move(1, "user", "member", "2026-01-03")  # signed up without buying
    s.move(1, "member", "fan", "2026-01-09")
    s.member(2, created="2025-12-01", stage="user")
    s.member(3, created="2025-12-01", stage="customer")
    s.move(3, "user", "customer", "2026-01-04")
    s.move(3, "customer", "user", "2026-01-28")  # back where it started by the end
    suite = compute_suite(duck_of(s), 1, JAN, FEB)
    conv = suite["funnel_conversion"].set_index(["from_stage", "to_stage"])
    # Users at the start: 1, 2, 3. At the end: 1 a fan (past customer), 2 and 3 users.
    assert conv.loc[("user", "customer")][["at_start", "converted"]].tolist() == [3, 1]
    assert math.isclose(conv.loc[("user", "customer")].conversion_rate, 1 / 3)


def test_rates_within_bounds_on_the_generated_shop() -> None:
    con = connect_duckdb()
    load_tables(con, generate(6000, seed=5))
    windows: list[tuple[Period, date, date]] = [
        ("month", date(2024, 2, 1), date(2025, 12, 1)),
        ("week", date(2025, 1, 6), date(2025, 6, 2)),
    ]
    for period, start, end in windows:
        suite = compute_suite(con, 1, start, end, period)
        conv = suite["funnel_conversion"]
        rates = conv["conversion_rate"].dropna()
        assert len(rates) and ((rates >= 0) & (rates <= 1)).all(), rates.max()
        assert (conv["converted"] <= conv["at_start"]).all()


# Random histories: members created at random times in a random stage, with random moves
# (sometimes from a stage the member was not in, as hand-edited or imported rows can be).
T0 = datetime(2025, 11, 1)
HOURS = 24 * 165  # to mid-April 2026: some events fall after the window


@st.composite
def histories(draw: Any) -> Shop:
    s = Shop()
    stage = st.sampled_from(STAGES)
    # Events on the hour, often exactly at a month's first midnight (a period boundary).
    when = st.one_of(
        st.integers(0, HOURS).map(lambda h: T0 + timedelta(hours=h)),
        st.sampled_from([datetime(2026, m, 1) for m in (1, 2, 3, 4)]),
    )
    for mid in range(1, draw(st.integers(1, 7)) + 1):
        s.member(mid, created=draw(when).isoformat(), stage=draw(stage))
        current = draw(st.one_of(st.none(), stage))
        for _ in range(draw(st.integers(0, 4))):
            to = draw(stage)
            frm = current if draw(st.booleans()) else draw(st.one_of(st.none(), stage))
            s.move(mid, frm, to, draw(when).isoformat())
            current = to
    return s


def _events(s: Shop, end: datetime) -> dict[int, list[tuple[datetime, int, str]]]:
    """Each member's stage events, by the rule in ``funnel.stage_events``, sorted."""
    out: dict[int, list[tuple[datetime, int, str]]] = {}
    for m in s.members:
        mine = [mv for mv in s.moves if mv["member_id"] == m["id"]]
        moves = sorted((mv["moved_at"], mv["id"], mv) for mv in mine)
        if moves:
            first_at, _i, first = moves[0]
            start_stage, start_at = first["from_stage"], min(first_at, m["created_at"])
        else:
            start_stage, start_at = m["funnel_stage"], m["created_at"]
        ev = [(start_at, 0, start_stage)] if start_stage is not None else []
        ev += [(at, i, mv["to_stage"]) for at, i, mv in moves]
        out[m["id"]] = sorted(e for e in ev if e[0] < end)
    return out


def _stage_at(ev: list[tuple[datetime, int, str]], t: datetime) -> str | None:
    before = [e for e in ev if e[0] < t]
    return before[-1][2] if before else None


def _rank(stage: str | None) -> int:
    return funnel.RANK.get(stage or "", -1)


def brute_force(s: Shop, scope: Scope) -> pd.DataFrame:
    ev = _events(s, scope.end_ts)
    rows = []
    for month in range(scope.first_index, scope.last_index + 1):
        opens = datetime.combine(period_start(month, "month"), datetime.min.time())
        closes = min(
            datetime.combine(period_start(month + 1, "month"), datetime.min.time()), scope.end_ts
        )
        for frm, to in funnel.STEPS:
            there = [m for m, e in ev.items() if _stage_at(e, opens) == frm]
            reached = [m for m in there if _rank(_stage_at(ev[m], closes)) >= funnel.RANK[to]]
            rows.append((period_start(month, "month"), frm, to, len(there), len(reached)))
    return pd.DataFrame(rows, columns=["period", "from_stage", "to_stage", "at_start", "converted"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_random_histories_match_brute_force_and_stay_in_bounds(s: Shop) -> None:
    scope = Scope(1, JAN, date(2026, 3, 20), "month")  # the last month is cut short
    con = duck_of(s)
    changes = con.execute(funnel.stage_changes(con, scope))
    progress = con.execute(funnel.stage_progress(con, scope))
    counts, conv = funnel.funnel_frames(changes, progress, scope)
    expected = brute_force(s, scope)
    got = conv[["period", "from_stage", "to_stage", "at_start", "converted"]]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (conv["converted"] <= conv["at_start"]).all()
    rates = conv["conversion_rate"].dropna()
    assert ((rates >= 0) & (rates <= 1)).all()
    # Head counts agree with the same walk.
    ev = _events(s, scope.end_ts)
    last = counts[counts["period"] == MAR].set_index("stage")["members"]
    for stage in STAGES:
        assert last.get(stage, 0) == sum(_stage_at(e, scope.end_ts) == stage for e in ev.values())
