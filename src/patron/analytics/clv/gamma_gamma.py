"""Gamma-Gamma model of monetary value (Fader & Hardie 2013; Colombo & Jiang 1999).

A customer's transaction values are ``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` across
customers, so the mean spend per transaction is ``p * gamma / (q - 1)``. Fitted on customers
with at least one repeat purchase, using ``x`` (repeat purchases) and their mean value ``zbar``.
Assumes spend is independent of the transaction process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
from scipy.special import digamma, gammaln

from ._base import ArrayLike, FitResult, FloatArray, as_float_array, maximise, params_array

PERIODS_PER_MONTH: dict[str, float] = {"D": 30.0, "W": 4.345, "M": 1.0}


class PurchasePredictor(Protocol):
    """Anything with a conditional ``expected_purchases(t, x, t_x, T)`` (the transaction models)."""

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray: ...


class GammaGamma:
    """Gamma-Gamma spend model with parameters ``p, q, gamma``."""

    name = "gg"
    param_names = ("p", "q", "gamma")

    def __init__(self, params: Mapping[str, float] | None = None) -> None:
        self.params: dict[str, float] | None = dict(params) if params is not None else None
        self.result: FitResult | None = None

    @staticmethod
    def _inputs(
        x: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        xa = as_float_array(x, "x")
        ma = as_float_array(monetary, "monetary")
        wa = np.ones_like(xa) if weights is None else as_float_array(weights, "weights")
        if not (xa.shape == ma.shape == wa.shape):
            raise ValueError("x, monetary and weights must have the same length")
        if np.any(xa <= 0) or np.any(ma <= 0):
            raise ValueError("Gamma-Gamma needs x > 0 and monetary > 0 (filter customers first)")
        return xa, ma, wa

    def loglik_and_gradient(
        self, params: ArrayLike, x: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None
    ) -> tuple[float, FloatArray]:
        """Weighted total log-likelihood of the mean spends and its gradient in (p, q, gamma)."""
        p, q, g = np.asarray(params, dtype=np.float64)
        xa, ma, wa = self._inputs(x, monetary, weights)
        px = p * xa
        log_den = np.log(g + xa * ma)
        ll_i = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * np.log(ma)
            + px * np.log(xa)
            - (px + q) * log_den
        )
        psi_pxq = digamma(px + q)
        d_p = xa * (psi_pxq - digamma(px) + np.log(ma) + np.log(xa) - log_den)
        d_q = psi_pxq - digamma(q) + np.log(g) - log_den
        d_g = q / g - (px + q) / (g + xa * ma)
        grad = np.array([np.dot(wa, d) for d in (d_p, d_q, d_g)])
        return float(np.dot(wa, ll_i)), grad

    def fit(
        self,
        x: ArrayLike,
        monetary: ArrayLike,
        weights: ArrayLike | None = None,
        initial: Sequence[float] | None = None,
    ) -> FitResult:
        """Fit by maximum likelihood on customers with ``x > 0``."""
        xa, ma, wa = self._inputs(x, monetary, weights)
        res = maximise(
            self.name,
            self.param_names,
            lambda prm: self.loglik_and_gradient(prm, xa, ma, wa),
            float(wa.sum()),
            self.start_values(ma, wa) if initial is None else initial,
        )
        self.params = res.params
        self.result = res
        return res

    @staticmethod
    def start_values(monetary: FloatArray, weights: FloatArray) -> list[float]:
        """``p = 1, q = 2`` and ``gamma`` = the weighted mean spend, so that the model's mean
        spend ``p gamma / (q - 1)`` starts at the data's (and in the data's currency unit)."""
        mean = float(np.dot(weights, monetary) / max(float(weights.sum()), 1e-300))
        return [1.0, 2.0, max(mean, 1e-6)]

    def conditional_expected_average_profit(self, x: ArrayLike, monetary: ArrayLike) -> FloatArray:
        """E[mean spend | x, zbar] = (q-1)/(px+q-1) * p*gamma/(q-1) + px/(px+q-1) * zbar.

        For ``x == 0`` this is the population mean ``p*gamma/(q-1)``.
        """
        p, q, g = params_array(self.params, self.param_names, self.name)
        xa = as_float_array(x, "x")
        ma = as_float_array(monetary, "monetary")
        return np.asarray((p * (g + xa * ma)) / (p * xa + q - 1.0), dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: PurchasePredictor,
        x: ArrayLike,
        t_x: ArrayLike,
        T: ArrayLike,
        monetary: ArrayLike,
        horizon_months: int = 12,
        discount_rate: float = 0.01,
        time_unit: Literal["D", "W", "M"] = "D",
    ) -> FloatArray:
        """Discounted CLV over ``horizon_months`` (as lifetimes' ``customer_lifetime_value``).

        ``sum_{m=1..H} E[spend] * (E[Y(m)] - E[Y(m-1)]) / (1 + discount_rate)^m`` where ``E[Y(m)]``
        is the conditional expected number of purchases in the next m months (converted to the
        model's ``time_unit``: 30 days or 4.345 weeks per month) and ``discount_rate`` is monthly.
        """
        factor = PERIODS_PER_MONTH[time_unit]
        spend = self.conditional_expected_average_profit(x, monetary)
        clv = np.zeros_like(spend)
        previous = np.zeros_like(spend)
        for month in range(1, horizon_months + 1):
            cumulative = transaction_model.expected_purchases(month * factor, x, t_x, T)
            clv += spend * (cumulative - previous) / (1.0 + discount_rate) ** month
            previous = cumulative
        return clv
