"""The full metric suite on DuckDB and on PySpark over the same generated shop: same figures.

The suite holds every figure the pages show (like-for-like comparison, Kaplan–Meier input,
funnel conversion, active members by day and month, portal conversion…); the week-period
part runs the metrics whose week and filter paths differ, the new ones included."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from bench.analytics_data import generate

from patron.analytics import funnel, metrics, online, rfm
from patron.analytics.engines import connect_duckdb, connect_spark, load_tables
from patron.analytics.facts import Filters, Scope
from patron.analytics.spans import like_for_like, span_figures
from patron.analytics.suite import compute_suite


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name, x in a.items():
        y = b[name]
        if isinstance(x, pd.DataFrame):
            assert len(x) > 0, name
            pd.testing.assert_frame_equal(
                x.reset_index(drop=True),
                y.reset_index(drop=True),
                check_dtype=False,
                check_exact=False,
                rtol=1e-9,
                atol=0,
                obj=name,
            )
        elif isinstance(x, float):
            assert y == pytest.approx(x, rel=1e-9), name
        else:
            assert x == y, name


@pytest.mark.slow
def test_suite_equal_on_duckdb_and_spark(spark: Any) -> None:
    frames = generate(3000, seed=11)
    duck = connect_duckdb()
    load_tables(duck, frames)
    sp = connect_spark(spark)
    load_tables(sp, frames)
    args = (1, date(2024, 3, 1), date(2025, 11, 1), "month")
    a = compute_suite(duck, *args)
    assert a["orders"] > 1000 and a["customers"] > 200
    assert_same(a, compute_suite(sp, *args))
    # Week periods and filters take other code paths (ISO weeks, semi-joins).
    f = Filters(stores=[10, 11], channels=["store"], tiers=["gold", "silver"])
    scope = Scope(1, date(2025, 1, 6), date(2025, 3, 3), "week", f)
    spans = like_for_like(scope.start, scope.end, scope.period)
    for metric in (
        metrics.kpis_by_period,
        metrics.window_summary,
        rfm.rfm_scores,
        metrics.second_purchase_times,
        lambda con, sc: span_figures(con, sc, spans),
        funnel.stage_progress,
        lambda con, sc: metrics.active_members(con, sc, "week"),
        # Store customers online, with a reachable set (the dispatcher's answer, given).
        lambda con, sc: online.store_customers_online(con, sc, range(1, 3000, 3)),
    ):
        x = duck.execute(metric(duck, scope)).reset_index(drop=True)
        y = sp.execute(metric(sp, scope)).reset_index(drop=True)
        key = list(x.columns[:2])
        assert_same(
            {"m": x.sort_values(key, ignore_index=True)},
            {"m": y.sort_values(key, ignore_index=True)},
        )
