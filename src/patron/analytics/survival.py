"""Time to a second purchase with right-censoring: the Kaplan–Meier estimate (ADR 0507).

A customer who first bought near the end of the window has not had the time to come back;
counting only the second purchases that happened would make every recent window look faster
and smaller than it is. Each such customer instead counts as "not yet" for as long as they were
watched. The input is the small histogram of :func:`patron.analytics.metrics.
second_purchase_times` (one row per day count), so the estimate is a few pandas operations.
"""

from __future__ import annotations

import pandas as pd

KM_COLUMNS = ["days", "at_risk", "second_purchases", "censored", "bought_again"]


def kaplan_meier(hist: pd.DataFrame) -> pd.DataFrame:
    """``days, at_risk, second_purchases, censored, bought_again`` per day count in ``hist``.

    ``at_risk``: customers watched for at least ``days`` days without a second purchase before
    that day; ``bought_again``: the estimated share of customers with a second purchase within
    ``days`` days, 1 − Π (1 − second purchases / at risk) over the day counts up to ``days``.
    A customer censored at ``d`` days was watched through day ``d`` (at risk on that day).
    """
    if hist.empty:
        return pd.DataFrame(columns=KM_COLUMNS)
    h = hist.sort_values("days").reset_index(drop=True)
    events = h["second_purchases"].astype("int64")
    censored = h["censored"].astype("int64")
    total = int(events.sum() + censored.sum())
    leaving = (events + censored).cumsum().shift(1, fill_value=0)
    at_risk = total - leaving
    surviving = (1.0 - events / at_risk).cumprod()
    return pd.DataFrame(
        {
            "days": h["days"].astype("int64"),
            "at_risk": at_risk.astype("int64"),
            "second_purchases": events,
            "censored": censored,
            "bought_again": 1.0 - surviving,
        }
    )


def median_days(km: pd.DataFrame) -> float | None:
    """The first day count by which half the customers are estimated to have bought again;
    None when the estimate never reaches half (too few came back, or not watched long enough)."""
    reached = km[km["bought_again"] >= 0.5 - 1e-12]
    return float(reached["days"].iloc[0]) if len(reached) else None


def share_within(km: pd.DataFrame, days: int) -> float | None:
    """Estimated share of customers with a second purchase within ``days`` days; None when no
    customer was watched that long (the estimate would be an extrapolation)."""
    if km.empty or int(km["days"].max()) < days:
        return None
    upto = km[km["days"] <= days]
    return float(upto["bought_again"].iloc[-1]) if len(upto) else 0.0
