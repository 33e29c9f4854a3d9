"""Probability alive and lifetime value for the analytics pages: BG/NBD + Gamma-Gamma fitted on
the merchant's own purchases in the analytics copy, with the result cached per data state.

The fit takes a fraction of a second for thousands of customers (the likelihood is summed over
distinct histories), but the pages are opened far more often than orders arrive, so the result
is kept in memory keyed by the merchant, the window's end, the filters and the purchases' count
and newest id: a sync that brings new orders changes the key, nothing else does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd

from patron.analytics.clv import BGNBD, GammaGamma, collapse_rfm, rfm_summary
from patron.analytics.facts import Scope, filtered_purchases

MIN_CUSTOMERS = 20  # below this the four BG/NBD parameters are not identified
MIN_REPEATERS = 5  # customers with a repeat purchase; Gamma-Gamma fits on them alone
HORIZON_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
P_ALIVE_EDGES = [i / 10 for i in range(11)]
CACHE_SIZE = 64


@dataclass(frozen=True)
class LifetimeFigures:
    """What the pages show; frames are also the CSV downloads."""

    customers: int
    repeaters: int
    params: dict[str, float]
    p_alive: pd.DataFrame  # low, high, customers
    clv: pd.DataFrame | None  # low_minor, high_minor, customers (None: spend model not fitted)
    mean_p_alive: float
    total_clv_minor: int | None = None
    median_clv_minor: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LifetimeStatus:
    """The fit's outcome for the pages: the figures, or why there are none.

    ``problem``: "" (fitted), ``too_little_history`` (fewer than :data:`MIN_CUSTOMERS`
    customers or :data:`MIN_REPEATERS` repeat buyers) or ``not_reliable`` (the fit did not
    converge, or ran to the edge of its parameters: ``reason`` says how, ADR 0508).
    """

    figures: LifetimeFigures | None
    problem: str = ""
    reason: str = ""


_cache: OrderedDict[Hashable, LifetimeStatus] = OrderedDict()
_lock = threading.Lock()


def lifetime_figures(con: Any, scope: Scope) -> LifetimeStatus:
    """Fit (or reuse the cached fit) for the scope's purchases up to the window's end."""
    tx = purchases_for_fit(con, scope)
    key = (
        scope.merchant_id,
        scope.end,
        tuple(scope.filters.stores),
        tuple(scope.filters.channels),
        len(tx),
        int(tx["order_id"].max()) if len(tx) else 0,
    )
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = fit_lifetime(tx, scope)
    with _lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def purchases_for_fit(con: Any, scope: Scope) -> pd.DataFrame:
    """``order_id, member_id, placed_local, net_minor``: the scope's member purchases up to the
    window's end, what the fit learns from."""
    p = filtered_purchases(con, scope)
    p = p.filter(p.member_id.notnull() & (p.placed_local < ibis.literal(scope.end_ts)))
    df: pd.DataFrame = con.execute(p.select("order_id", "member_id", "placed_local", "net_minor"))
    return df


def fit_lifetime(tx: pd.DataFrame, scope: Scope) -> LifetimeStatus:
    """BG/NBD on weekly (x, t_x, T) up to the window's last day, then Gamma-Gamma on spend."""
    if tx["member_id"].nunique() < MIN_CUSTOMERS:
        return LifetimeStatus(None, "too_little_history")
    last_day = pd.Timestamp(scope.end - timedelta(days=1))
    s = rfm_summary(tx, "member_id", "placed_local", "net_minor", last_day, None, "W")
    repeaters = int((s["x"] > 0).sum())
    if repeaters < MIN_REPEATERS:
        return LifetimeStatus(None, "too_little_history")
    rows = collapse_rfm(s["x"], s["t_x"], s["T"])
    bg = BGNBD()
    try:
        with np.errstate(all="ignore"):
            result = bg.fit(rows.x, rows.t_x, rows.T, rows.weights)
    except (ValueError, FloatingPointError, ArithmeticError) as exc:
        return LifetimeStatus(None, "not_reliable", str(exc))
    if not result.converged:
        return LifetimeStatus(None, "not_reliable", result.reason)
    alive = np.asarray(bg.probability_alive(s["x"], s["t_x"], s["T"]), dtype="float64")
    counts, _ = np.histogram(np.clip(alive, 0, 1), bins=P_ALIVE_EDGES)
    p_frame = pd.DataFrame(
        {"low": P_ALIVE_EDGES[:-1], "high": P_ALIVE_EDGES[1:], "customers": counts.astype(int)}
    )
    figures = LifetimeFigures(
        customers=len(s),
        repeaters=repeaters,
        params={k: float(v) for k, v in result.params.items()},
        p_alive=p_frame,
        clv=None,
        mean_p_alive=float(alive.mean()),
    )
    return LifetimeStatus(_with_value(figures, bg, s))


def _with_value(figures: LifetimeFigures, bg: BGNBD, s: pd.DataFrame) -> LifetimeFigures:
    """Add the 12-month discounted value per customer (Gamma-Gamma) when spend can be fitted."""
    spenders = s[(s["x"] > 0) & (s["monetary"] > 0)]
    if len(spenders) < MIN_REPEATERS:
        return figures
    gg = GammaGamma()
    try:
        with np.errstate(all="ignore"):
            fit = gg.fit(spenders["x"], spenders["monetary"])
    except (ValueError, FloatingPointError, ArithmeticError):
        return replace(figures, notes=[*figures.notes, "spend_not_reliable"])
    if not fit.converged:
        return replace(figures, notes=[*figures.notes, "spend_not_reliable"])
    value = np.asarray(
        gg.customer_lifetime_value(
            bg, s["x"], s["t_x"], s["T"], s["monetary"], HORIZON_MONTHS, MONTHLY_DISCOUNT, "W"
        ),
        dtype="float64",
    )
    value = np.where(np.isfinite(value), np.maximum(value, 0), 0)
    params = {**figures.params, **{f"gg_{k}": float(v) for k, v in fit.params.items()}}
    return LifetimeFigures(
        customers=figures.customers,
        repeaters=figures.repeaters,
        params=params,
        p_alive=figures.p_alive,
        clv=value_histogram(value),
        mean_p_alive=figures.mean_p_alive,
        total_clv_minor=round(float(value.sum())),
        median_clv_minor=round(float(np.median(value))),
    )


def value_histogram(value: np.ndarray[Any, Any], bins: int = 10) -> pd.DataFrame:
    """Equal-width bins from 0 to a round number above the 95th percentile; the last bin holds
    everything above (a few big spenders must not squash the picture)."""
    cap = float(np.percentile(value, 95)) if len(value) else 0.0
    step = _round_step(cap / bins if cap > 0 else 1.0)
    edges = [step * i for i in range(bins + 1)]
    idx = np.minimum((value // step).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)[:bins]
    high: list[float | None] = [*edges[1:bins], None]
    return pd.DataFrame(
        {
            "low_minor": [int(e) for e in edges[:bins]],
            "high_minor": [None if h is None else int(h) for h in high],
            "customers": counts.astype(int),
        }
    )


def _round_step(v: float) -> float:
    """1, 2 or 5 × 10^k at or above ``v``, at least 1 (minor units)."""
    base = 10 ** int(np.floor(np.log10(max(v, 1.0))))
    for m in (1, 2, 5, 10):
        if v <= m * base:
            return float(m * base)
    return float(10 * base)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
