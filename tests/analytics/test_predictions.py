"""Member predictions from a hand-built purchase history on SQLite and PostgreSQL: the stored
figures are those of the models' own functions on the same history; segment rules read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.analytics import rfm
from patron.analytics.cli import app as cli_app
from patron.analytics.clv import GammaGamma, fit_model, rfm_summary
from patron.analytics.engines import connect_duckdb
from patron.analytics.facts import Scope
from patron.analytics.models import MemberPrediction
from patron.analytics.predict import PredictConfig
from patron.analytics.predict_run import predict_merchant, predict_task
from patron.core.clock import FrozenClock
from patron.core.config import Settings, get_settings
from patron.core.db import transaction
from patron.engagement.segments.service import preview
from tests.analytics.test_sync import _member, _order
from tests.conftest import Tenant

# (member, day in Jan–Jun 2026, amount): 02:00 UTC = 10:00 in Shanghai, the same local day.
HISTORY = [
    (1, "2026-01-03", 3000), (1, "2026-01-20", 2000), (1, "2026-03-02", 5000),
    (1, "2026-05-28", 4000), (2, "2026-01-10", 10000), (2, "2026-01-12", 8000),
    (3, "2026-02-01", 1500), (4, "2026-02-14", 2500), (4, "2026-04-01", 3500),
    (4, "2026-04-15", 1000), (4, "2026-06-01", 2000), (5, "2026-03-03", 7000),
    (6, "2026-01-05", 900), (6, "2026-02-05", 1100), (6, "2026-03-05", 1000),
]  # fmt: skip
TODAY = datetime(2026, 6, 10, 2, tzinfo=UTC)


def _crowd() -> list[tuple[int, str, int]]:
    """60 more customers (8–67) with varied rates and drop-out days, so the models have a
    population to learn from: customer k starts on day k mod 40, buys every 5 + k mod 23 days,
    stops after day 30 + 3k mod 150, and spends 1000 + 137k mod 4000 (+ 50 per purchase)."""
    rows = []
    for k in range(8, 68):
        day, gap, stop = k % 40, 5 + k % 23, 30 + (3 * k) % 150
        n = 0
        while day <= min(stop, 160):
            rows.append(
                (k, str(date(2026, 1, 1) + timedelta(days=day)), 1000 + (137 * k) % 4000 + 50 * n)
            )
            day, n = day + gap, n + 1
    return rows


HISTORY += _crowd()


def _history(sessions: sessionmaker[Session], tenant: Tenant) -> dict[int, int]:
    with transaction(sessions) as s:
        ids = {n: _member(s, tenant.merchant_id, 1 + n % 28) for n in range(1, 68)}  # 7: none
        for i, (n, day, amount) in enumerate(HISTORY):
            at = datetime.fromisoformat(day).replace(hour=2, tzinfo=UTC)
            _order(s, tenant, ids[n], at, amount, f"o{i}")
    return ids


def _expected(
    ids: dict[int, int], config: PredictConfig, as_of: str = "2026-06-10"
) -> pd.DataFrame:
    tx = pd.DataFrame(HISTORY, columns=["n", "day", "amount"])
    tx["member_id"], tx["day"] = tx["n"].map(ids), pd.to_datetime(tx["day"])
    tx = tx[tx["day"] <= as_of]
    summary = rfm_summary(tx, "member_id", "day", "amount", calibration_end=as_of)
    model, gg = fit_model(config.model, summary), fit_model("gg", summary)
    assert isinstance(gg, GammaGamma) and not isinstance(model, GammaGamma)
    x, t_x, big_t, zbar = summary.x, summary.t_x, summary["T"], summary.monetary
    return pd.DataFrame(
        {
            "p_alive": model.probability_alive(x, t_x, big_t),
            "expected_purchases": model.expected_purchases(config.horizon_days, x, t_x, big_t),
            "clv": gg.customer_lifetime_value(
                model, x, t_x, big_t, zbar, config.clv_months, config.discount_rate, "D"
            ),
        },
        index=summary.index,
    )


def test_predictions_stored_and_usable_in_segments(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant, tmp_path: Path
) -> None:
    # BG/NBD, the default (Pareto/NBD takes minutes on this small history: see ADR 0571).
    model = "bgnbd"
    clock.set(TODAY)
    ids = _history(sessions, tenant)
    config = PredictConfig(model="bgnbd", horizon_days=60, clv_months=6, discount_rate=0.02)
    out = predict_merchant(sessions, str(tmp_path / "a.duckdb"), tenant.merchant_id, config)
    assert out.members == 66
    want = _expected(ids, config)
    with transaction(sessions) as s:
        rows = {p.member_id: p for p in s.scalars(select(MemberPrediction))}
    assert set(rows) == {ids[n] for n in range(1, 68) if n != 7}  # member 7 never bought
    for mid, p in rows.items():
        assert (p.model, p.horizon_days, p.clv_months, p.discount_rate) == (model, 60, 6, 0.02)
        assert p.p_alive == pytest.approx(want.p_alive[mid], rel=1e-12)
        assert p.expected_purchases == pytest.approx(want.expected_purchases[mid], rel=1e-12)
        assert p.expected_clv_minor == round(want.clv[mid])
        assert p.fitted_at == TODAY
    # RFM over all history up to today, as the RFM metric scores it (hand-worked values for
    # the scores themselves are in test_metrics.py).
    con = connect_duckdb(str(tmp_path / "a.duckdb"), read_only=True)
    scope = Scope(tenant.merchant_id, date(2026, 1, 1), date(2026, 6, 11), "month")
    scores = con.execute(rfm.rfm_scores(con, scope)).set_index("member_id")
    for mid, p in rows.items():
        want_rfm = tuple(scores.loc[mid, ["r", "f", "m", "segment"]])
        assert (p.rfm_r, p.rfm_f, p.rfm_m, p.rfm_segment) == want_rfm
    con.disconnect()

    low = min(rows.values(), key=lambda p: p.p_alive)
    rules = {"field": "p_alive", "op": "lte", "value": low.p_alive}
    with transaction(sessions) as s:
        assert [m.id for m in preview(s, tenant.merchant_id, rules)["sample"]] == [low.member_id]
        seg = {"field": "rfm_segment", "op": "in", "value": ["loyal", "at_risk"]}
        n_seg = sum(p.rfm_segment in ("loyal", "at_risk") for p in rows.values())
        assert preview(s, tenant.merchant_id, seg)["count"] == n_seg > 0
        r5 = {"field": "rfm_score", "op": "eq", "value": {"score": "r", "value": 5}}
        assert preview(s, tenant.merchant_id, r5)["count"] == sum(
            p.rfm_r == 5 for p in rows.values()
        )
        rich = {"field": "predicted_clv", "op": "gt", "value": 0}
        assert preview(s, tenant.merchant_id, rich)["count"] == 66
        many = {"field": "expected_purchases", "op": "between", "value": [0.5, 100]}
        assert preview(s, tenant.merchant_id, many)["count"] == sum(
            0.5 <= p.expected_purchases <= 100 for p in rows.values()
        )


def test_daily_task_runs_once_a_day(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    settings: Settings,
    tmp_path: Path,
) -> None:
    clock.set(TODAY)
    _history(sessions, tenant)
    daily = settings.model_copy(
        update={"analytics_path": str(tmp_path / "a.duckdb"), "analytics_predict_daily": True}
    )
    assert predict_task(sessions, settings) == 0  # switched off in the test settings
    assert predict_task(sessions, daily) == 1
    assert predict_task(sessions, daily) == 0  # done for today
    with transaction(sessions) as s:
        assert len(s.scalars(select(MemberPrediction)).all()) == 66
    clock.set(datetime(2026, 6, 11, 2, tzinfo=UTC))
    assert predict_task(sessions, daily) == 1


def test_predict_command(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(sessions, tenant)
    monkeypatch.setenv("PATRON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PATRON_ANALYTICS_PATH", str(tmp_path / "cli.duckdb"))
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(cli_app, ["predict", "--merchant", "alpha", "--horizon-days", "30"])
        unknown = CliRunner().invoke(cli_app, ["predict", "--merchant", "nope"])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    assert "66 members scored (bgnbd" in ok.output
    assert unknown.exit_code == 1
    with transaction(sessions) as s:
        horizons = set(s.scalars(select(MemberPrediction.horizon_days)))
    assert horizons == {30}


def test_predict_as_of_an_earlier_day(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--as-of`` anchors the run to an earlier day: the models learn from the purchases up to
    it and score the members who had bought by then, exactly as a fit on that history does."""
    clock.set(TODAY)
    ids = _history(sessions, tenant)
    monkeypatch.setenv("PATRON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PATRON_ANALYTICS_PATH", str(tmp_path / "asof.duckdb"))
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(
            cli_app, ["predict", "--merchant", "alpha", "--as-of", "2026-04-30"]
        )
        bad = CliRunner().invoke(cli_app, ["predict", "--merchant", "alpha", "--as-of", "30/04"])
        later = CliRunner().invoke(
            cli_app, ["predict", "--merchant", "alpha", "--as-of", "2999-01-01"]
        )
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    bought = {ids[n] for n, day, _a in HISTORY if day <= "2026-04-30"}
    assert f"{len(bought)} members scored (bgnbd" in ok.output
    assert "history up to 2026-04-30" in ok.output
    want = _expected(ids, PredictConfig(), "2026-04-30")
    with transaction(sessions) as s:
        rows = {p.member_id: p for p in s.scalars(select(MemberPrediction))}
    assert set(rows) == bought
    for mid, p in rows.items():
        assert p.p_alive == pytest.approx(want.p_alive[mid], rel=1e-12)
        assert p.expected_clv_minor == round(want.clv[mid])
    assert bad.exit_code == 1 and "--as-of must be a date" in bad.output
    assert later.exit_code == 1 and "after today" in later.output
    assert len(later.output.strip().splitlines()) == 1
