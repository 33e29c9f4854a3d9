"""Holdout validation: predicted vs actual repeat purchases by calibration frequency."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._base import ArrayLike, FloatArray
from .summary import collapse_rfm


class ConditionalModel(Protocol):
    """A fitted transaction model (BG/NBD, Pareto/NBD, MBG/NBD)."""

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray: ...


def holdout_validation(
    model: ConditionalModel, summary: pd.DataFrame, max_bucket: int = 7
) -> list[dict[str, Any]]:
    """Compare E[holdout purchases | calibration history] with the actual holdout purchases.

    ``summary`` needs ``x, t_x, T, x_holdout, duration_holdout`` (see :func:`rfm_summary`).
    Returns one row per calibration frequency bucket ``"0", "1", ..., "<max_bucket-1>",
    "<max_bucket>+"`` and a final ``"all"`` row, each with ``customers``, ``actual`` and
    ``predicted`` totals and their per-customer means (the conditional-expectation check of
    Fader, Hardie & Lee 2005, fig. 4). Buckets without customers are left out.
    """
    needed = {"x", "t_x", "T", "x_holdout", "duration_holdout"}
    missing = needed - set(summary.columns)
    if missing:
        raise ValueError(f"summary lacks columns {sorted(missing)} (pass observation_end)")
    durations = summary["duration_holdout"].to_numpy(dtype="float64")
    if durations.size == 0:
        return []
    if not np.all(durations == durations[0]):
        raise ValueError("holdout validation needs one holdout duration for all customers")
    rows = collapse_rfm(summary["x"], summary["t_x"], summary["T"])
    predicted = model.expected_purchases(float(durations[0]), rows.x, rows.t_x, rows.T)
    per_customer = predicted[rows.inverse]
    x = summary["x"].to_numpy(dtype="int64")
    bucket = np.minimum(x, max_bucket)
    actual = summary["x_holdout"].to_numpy(dtype="float64")
    out: list[dict[str, Any]] = []
    labels = [str(k) for k in range(max_bucket)] + [f"{max_bucket}+"]
    for k, label in enumerate(labels):
        mask = bucket == k
        if np.any(mask):
            out.append(_row(label, actual[mask], per_customer[mask]))
    out.append(_row("all", actual, per_customer))
    return out


def _row(label: str, actual: FloatArray, predicted: FloatArray) -> dict[str, Any]:
    n = int(actual.size)
    return {
        "bucket": label,
        "customers": n,
        "actual": float(actual.sum()),
        "predicted": float(predicted.sum()),
        "actual_mean": float(actual.mean()),
        "predicted_mean": float(predicted.mean()),
    }
