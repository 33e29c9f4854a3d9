"""Convenience entry points: :func:`fit_model` and :func:`clv_from_transactions`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._base import FitResult, TransactionModel
from .bgnbd import BGNBD
from .gamma_gamma import GammaGamma
from .mbgnbd import MBGNBD
from .pnbd import ParetoNBD
from .summary import TimeUnit, collapse_rfm, rfm_summary
from .validate import holdout_validation

ModelName = Literal["bgnbd", "pnbd", "mbgnbd", "gg"]
TRANSACTION_MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BGNBD,
    "pnbd": ParetoNBD,
    "mbgnbd": MBGNBD,
}
MODEL_NAMES: tuple[str, ...] = ("bgnbd", "pnbd", "mbgnbd", "gg")


def fit_model(
    name: str,
    summary: pd.DataFrame,
    initial: Sequence[float] | None = None,
    collapse: bool = True,
) -> TransactionModel | GammaGamma:
    """Fit model ``name`` (``bgnbd|pnbd|mbgnbd|gg``) on an RFM ``summary``; return the model.

    ``summary`` has columns ``x, t_x, T`` (and ``monetary`` for ``gg``, which uses only the
    customers with ``x > 0``). With ``collapse`` the transaction models are fitted on the distinct
    (x, t_x, T) rows with weights, which gives the same estimates much faster. The fit outcome is
    on ``model.result`` (a :class:`FitResult`).
    """
    if name == "gg":
        if "monetary" not in summary.columns:
            raise ValueError("the gg model needs a 'monetary' column")
        repeat = summary[(summary["x"] > 0) & (summary["monetary"] > 0)]
        gg = GammaGamma()
        gg.fit(repeat["x"], repeat["monetary"], initial=initial)
        return gg
    if name not in TRANSACTION_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    model = TRANSACTION_MODELS[name]()
    if collapse:
        rows = collapse_rfm(summary["x"], summary["t_x"], summary["T"])
        model.fit(rows.x, rows.t_x, rows.T, rows.weights, initial=initial)
    else:
        model.fit(summary["x"], summary["t_x"], summary["T"], initial=initial)
    return model


def clv_from_transactions(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: str | pd.Timestamp,
    model: ModelName = "bgnbd",
    freq: TimeUnit = "D",
    observation_end: str | pd.Timestamp | None = None,
) -> dict[str, Any]:
    """Summarise transactions, fit ``model`` and validate on the holdout period; JSON-able dict.

    The holdout period runs from ``calibration_end`` (exclusive) to ``observation_end``
    (default: the last transaction date). Returns ``model, params, log_likelihood, iterations,
    converged, n_customers, time_unit, calibration_end, observation_end, holdout`` where
    ``holdout`` are the rows of :func:`holdout_validation` (empty for ``gg`` or without holdout).
    """
    last_day = pd.Timestamp(pd.to_datetime(df[date_col]).max()).normalize()
    cal_end = pd.Timestamp(calibration_end).normalize()
    obs_end = pd.Timestamp(observation_end).normalize() if observation_end is not None else last_day
    has_holdout = obs_end > cal_end
    summary = rfm_summary(
        df, customer_col, date_col, amount_col, cal_end, obs_end if has_holdout else None, freq
    )
    fitted = fit_model(model, summary)
    result = fitted.result
    assert isinstance(result, FitResult)
    holdout: list[dict[str, Any]] = []
    if has_holdout and isinstance(fitted, TransactionModel):
        holdout = holdout_validation(fitted, summary)
    out = result.to_dict()
    out.update(
        {
            "n_customers": len(summary),
            "time_unit": freq,
            "calibration_end": cal_end.date().isoformat(),
            "observation_end": obs_end.date().isoformat() if has_holdout else None,
            "holdout": holdout,
            "summary_means": {c: float(np.mean(summary[c])) for c in ("x", "t_x", "T", "monetary")},
        }
    )
    return out
