"""Predictions stored on members: P(alive), expected purchases, CLV and RFM (ADR 0571).

One run for a merchant: bring the analytics copy up to date, fit a transaction model (BG/NBD
or Pareto/NBD) and Gamma-Gamma on every member's purchases up to today — or up to an earlier
day given with ``--as-of`` (calibration = all history up to that day, days), score every member
who has bought, and upsert ``member_predictions`` in set-based batches. Members no longer
scored (their purchases were refunded, they were merged away) lose their row. Segment rules
read the table (:mod:`patron.analytics.segment_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.analytics import rfm, segment_fields
from patron.analytics.clv import GammaGamma, fit_model, rfm_summary
from patron.analytics.facts import Scope, all_purchases
from patron.analytics.models import MemberPrediction
from patron.core.errors import BusinessRuleViolation
from patron.core.merge_hooks import register_merge_hook
from patron.members.models import Member

PredictionModel = Literal["bgnbd", "pnbd"]
BATCH_ROWS = 5_000
# Below this many repeat buyers the spend model has nothing to learn from.
MIN_REPEAT_BUYERS = 3


@dataclass(frozen=True)
class PredictConfig:
    """What to predict: the model, the purchase horizon and the CLV horizon and discount."""

    model: PredictionModel = "bgnbd"
    horizon_days: int = 90
    clv_months: int = 12
    discount_rate: float = 0.01  # per month


def member_transactions(con: Any, merchant_id: int, today: date) -> pd.DataFrame:
    """``member_id, day, amount``: every member purchase up to and including ``today`` (local),
    net of refunds, in minor units."""
    p = all_purchases(con, merchant_id)
    p = p.filter(p.member_id.notnull() & (p.placed_local < today + timedelta(days=1)))
    df: pd.DataFrame = con.execute(
        p.select(member_id=p.member_id, day=p.placed_local.date(), amount=p.net_minor)
    )
    df["day"] = pd.to_datetime(df["day"])
    return df


def score_members(
    con: Any, merchant_id: int, today: date, config: PredictConfig = PredictConfig()
) -> pd.DataFrame:
    """One row per member who bought: ``member_id, p_alive, expected_purchases,
    expected_clv_minor, rfm_r, rfm_f, rfm_m, rfm_segment``."""
    tx = member_transactions(con, merchant_id, today)
    if tx.empty:
        raise BusinessRuleViolation("no member purchases to learn from", code="no_purchases")
    summary = rfm_summary(tx, "member_id", "day", "amount", calibration_end=today, freq="D")
    if int((summary["x"] > 0).sum()) < MIN_REPEAT_BUYERS:
        raise BusinessRuleViolation(
            "too few repeat buyers to fit the models", code="too_few_repeat_buyers"
        )
    model = fit_model(config.model, summary)
    spend = fit_model("gg", summary)
    assert isinstance(spend, GammaGamma) and not isinstance(model, GammaGamma)
    for fitted in (model, spend):
        if fitted.result is None or not fitted.result.converged:
            # Small or degenerate histories drive the estimates to a boundary (e.g. a → 0).
            why = fitted.result.reason if fitted.result is not None else "not fitted"
            raise BusinessRuleViolation(
                f"the {fitted.result.model if fitted.result else 'model'} fit cannot be "
                f"trusted on this history: {why}",
                code="fit_not_converged",
            )
    # Plain arrays: the models' functions keep a Series' index, which would not align below.
    x, t_x, big_t = (summary[c].to_numpy() for c in ("x", "t_x", "T"))
    zbar = summary["monetary"].to_numpy()
    clv = spend.customer_lifetime_value(
        model, x, t_x, big_t, zbar, config.clv_months, config.discount_rate, "D"
    )
    out = pd.DataFrame(
        {
            "member_id": summary.index.to_numpy().astype("int64"),
            "p_alive": model.probability_alive(x, t_x, big_t),
            "expected_purchases": model.expected_purchases(config.horizon_days, x, t_x, big_t),
            "expected_clv_minor": np.rint(clv).astype("int64"),
        }
    )
    scope = Scope(merchant_id, tx["day"].min().date(), today + timedelta(days=1), "month")
    scores: pd.DataFrame = con.execute(rfm.rfm_scores(con, scope))
    scores = scores[["member_id", "r", "f", "m", "segment"]].rename(
        columns={"r": "rfm_r", "f": "rfm_f", "m": "rfm_m", "segment": "rfm_segment"}
    )
    return out.merge(scores, on="member_id", how="left")


def store_predictions(
    session: Session,
    merchant_id: int,
    scored: pd.DataFrame,
    config: PredictConfig,
    fitted_at: datetime,
) -> int:
    """Upsert one row per scored member (in batches); drop the merchant's rows this run did not
    score. Members missing from the operational database (deleted since the sync) are skipped.
    Returns the rows written."""
    known = set(session.scalars(select(Member.id).where(Member.merchant_id == merchant_id)).all())
    rows = [
        {
            "merchant_id": merchant_id,
            "member_id": int(r.member_id),
            "model": config.model,
            "fitted_at": fitted_at,
            "p_alive": float(r.p_alive),
            "horizon_days": config.horizon_days,
            "expected_purchases": float(r.expected_purchases),
            "clv_months": config.clv_months,
            "discount_rate": config.discount_rate,
            "expected_clv_minor": int(r.expected_clv_minor),
            "rfm_r": None if pd.isna(r.rfm_r) else int(r.rfm_r),
            "rfm_f": None if pd.isna(r.rfm_f) else int(r.rfm_f),
            "rfm_m": None if pd.isna(r.rfm_m) else int(r.rfm_m),
            "rfm_segment": None if pd.isna(r.rfm_segment) else str(r.rfm_segment),
        }
        for r in scored.itertuples(index=False)
        if int(r.member_id) in known
    ]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    table = MemberPrediction.__table__
    for start in range(0, len(rows), BATCH_ROWS):
        stmt = dialect.insert(table)
        updated = {k: stmt.excluded[k] for k in rows[0] if k not in ("merchant_id", "member_id")}
        stmt = stmt.on_conflict_do_update(index_elements=["merchant_id", "member_id"], set_=updated)
        session.execute(stmt, rows[start : start + BATCH_ROWS])
    session.execute(
        delete(MemberPrediction).where(
            MemberPrediction.merchant_id == merchant_id, MemberPrediction.fitted_at < fitted_at
        )
    )
    session.flush()
    return len(rows)


def forget_merged(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Merge hook: the merged-away member's prediction goes; the next run scores the kept one
    on the combined history."""
    del keep_id
    session.execute(
        delete(MemberPrediction).where(
            MemberPrediction.merchant_id == merchant_id, MemberPrediction.member_id == gone_id
        )
    )


register_merge_hook(forget_merged)
# The prediction fields are registered with the segment rules wherever predictions are used.
assert segment_fields.NUMERIC_OPS
