"""Transactions -> per-customer RFM summary for the buy-till-you-die models.

Definitions (Fader, Hardie & Lee 2005), with purchases on the same calendar day counted as one
transaction (their values summed):

* ``x``: number of repeat transactions in the calibration period (transactions after the first);
* ``t_x``: time from the first transaction to the last calibration transaction (0 if x == 0);
* ``T``: time from the first transaction to the calibration end;
* ``monetary``: mean value of the repeat transactions (0 if x == 0);
* ``x_holdout``: transactions in (calibration end, observation end];
* ``duration_holdout``: the length of that holdout period.

Times are in days (``freq="D"``) or weeks (``freq="W"``, days / 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._base import ArrayLike, FloatArray, as_float_array

TimeUnit = Literal["D", "W"]
UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0}


def _daily(
    df: pd.DataFrame, customer_col: str, date_col: str, amount_col: str | None
) -> pd.DataFrame:
    """One row per (customer, day) with the day's summed amount, sorted by customer and day."""
    days = pd.to_datetime(df[date_col]).dt.normalize()
    amounts = (
        pd.to_numeric(df[amount_col], errors="raise").astype("float64")
        if amount_col is not None
        else pd.Series(0.0, index=df.index)
    )
    frame = pd.DataFrame(
        {"customer": df[customer_col].to_numpy(), "day": days.to_numpy(), "amount": amounts}
    )
    return frame.groupby(["customer", "day"], sort=True).agg(amount=("amount", "sum")).reset_index()


def rfm_summary(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    freq: TimeUnit = "D",
) -> pd.DataFrame:
    """Summarise transactions per customer (index: customer id).

    Columns ``x, t_x, T, monetary`` and, when ``observation_end`` is given, ``x_holdout`` and
    ``duration_holdout``. ``calibration_end`` defaults to the last transaction date; customers whose
    first transaction is after it are left out. Fully vectorised (no loop over customers).
    """
    if freq not in UNIT_DAYS:
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    daily = _daily(df, customer_col, date_col, amount_col)
    if daily.empty:
        raise ValueError("no transactions")
    cal_end = pd.Timestamp(calibration_end or daily["day"].max()).normalize()
    unit = pd.Timedelta(days=UNIT_DAYS[freq])
    first = daily.groupby("customer", sort=True)["day"].transform("min")
    cal = daily[daily["day"] <= cal_end]
    first_cal = first[cal.index]
    is_first = cal["day"] == first_cal
    grouped = cal.assign(
        repeat_amount=cal["amount"].where(~is_first, 0.0), first=first_cal
    ).groupby("customer", sort=True)
    agg = grouped.agg(
        n=("day", "size"), last=("day", "max"), first=("first", "min"), rep=("repeat_amount", "sum")
    )
    x = agg["n"].to_numpy() - 1
    out = pd.DataFrame(
        {
            "x": x.astype("float64"),
            "t_x": ((agg["last"] - agg["first"]) / unit).to_numpy(dtype="float64"),
            "T": ((cal_end - agg["first"]) / unit).to_numpy(dtype="float64"),
            "monetary": np.where(x > 0, agg["rep"].to_numpy() / np.maximum(x, 1), 0.0),
        },
        index=agg.index,
    )
    if observation_end is not None:
        obs_end = pd.Timestamp(observation_end).normalize()
        if obs_end < cal_end:
            raise ValueError("observation_end must not be before calibration_end")
        hold = daily[(daily["day"] > cal_end) & (daily["day"] <= obs_end)]
        counts = hold.groupby("customer", sort=True).size()
        out["x_holdout"] = counts.reindex(out.index, fill_value=0).to_numpy(dtype="float64")
        out["duration_holdout"] = (obs_end - cal_end) / unit
    out.index.name = customer_col
    return out


@dataclass(frozen=True)
class CollapsedRFM:
    """Distinct (x, t_x, T) rows with ``weights`` = number of customers on each row.

    ``inverse`` maps every original customer to its row: ``x[inverse]`` restores the input.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    inverse: npt.NDArray[np.intp]

    @property
    def n_rows(self) -> int:
        """Number of distinct rows."""
        return int(self.x.size)


def collapse_rfm(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> CollapsedRFM:
    """Collapse customers with identical (x, t_x, T) into weighted unique rows.

    The likelihood is a sum over customers, so fitting the unique rows with these weights gives
    exactly the same fit, at a cost that depends on the number of distinct histories only.
    """
    xa, ta, Ta = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
    if not (xa.shape == ta.shape == Ta.shape):
        raise ValueError("x, t_x and T must have the same length")
    order = np.lexsort((Ta, ta, xa))
    xs, ts, Ts = xa[order], ta[order], Ta[order]
    new = np.ones(xs.size, dtype=bool)
    if xs.size > 1:
        new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (Ts[1:] != Ts[:-1])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    inverse = np.empty(xs.size, dtype=np.intp)
    inverse[order] = group
    weights = np.diff(np.append(starts, xs.size)).astype(np.float64)
    return CollapsedRFM(xs[starts], ts[starts], Ts[starts], weights, inverse)
