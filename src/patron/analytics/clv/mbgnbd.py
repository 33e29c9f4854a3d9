"""MBG/NBD model (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008).

As BG/NBD, but a customer may also drop out right after the *first* purchase, so customers
without repeat purchases are not certainly alive. Parameters ``r, alpha, a, b`` as in BG/NBD.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from ._base import ArrayLike, FloatArray, RFMData, TransactionModel, as_float_array


class MBGNBD(TransactionModel):
    """Modified beta-geometric/NBD model with parameters ``r, alpha, a, b``."""

    name = "mbgnbd"
    param_names = ("r", "alpha", "a", "b")

    def _loglik_grad(self, p: FloatArray, data: RFMData) -> tuple[float, FloatArray]:
        r, alpha, a, b = p
        x, t_x, T, w = data.x, data.t_x, data.T, data.weights
        xu, idx = data.x_unique, data.x_index
        a1 = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha))[idx]
        a2 = (gammaln(a + b) + gammaln(b + xu + 1.0) - gammaln(b) - gammaln(a + b + xu + 1.0))[idx]
        log_aT = np.log(alpha + T)
        log_at = np.log(alpha + t_x)
        a3 = -(r + x) * log_aT
        a4 = np.log(a) - np.log(b + x) - (r + x) * log_at
        lse = np.logaddexp(a3, a4)
        ll = float(np.dot(w, a1 + a2 + lse))
        w3 = np.exp(a3 - lse)
        w4 = np.exp(a4 - lse)
        psi_abx = digamma(a + b + xu + 1.0)[idx]
        d_r = digamma(r + xu)[idx] - digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_at
        d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
        d_a = digamma(a + b) - psi_abx + w4 / a
        d_b = digamma(a + b) + digamma(b + xu + 1.0)[idx] - digamma(b) - psi_abx - w4 / (b + x)
        grad = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)])
        return ll, grad

    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))."""
        r, alpha, a, b = self._p()
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        log_odds = np.log(a) - np.log(b + xa) + (r + xa) * (np.log(alpha + Ta) - np.log(alpha + ta))
        return np.asarray(np.exp(-np.logaddexp(0.0, log_odds)), dtype=np.float64)

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T+t] | x, t_x, T] (Wagner & Hoppe 2008; as lifetimes computes it)."""
        r, alpha, a, b = self._p()
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        if t <= 0:
            return np.zeros_like(xa)
        hyp = hyp2f1(r + xa, b + xa + 1.0, a + b + xa, t / (alpha + Ta + t))
        ratio = np.exp((r + xa) * (np.log(alpha + Ta) - np.log(alpha + Ta + t)))
        first = (a + b + xa) / (a - 1.0) * (1.0 - ratio * hyp)
        return np.asarray(first * self.probability_alive(xa, ta, Ta), dtype=np.float64)

    def expected_purchases_unconditional(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]."""
        r, alpha, a, b = self._p()
        ta = as_float_array(t, "t")
        hyp = hyp2f1(r, b + 1.0, a + b, ta / (alpha + ta))
        return np.asarray(b / (a - 1.0) * (1.0 - (alpha / (alpha + ta)) ** r * hyp))
