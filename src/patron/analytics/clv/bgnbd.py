"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after every purchase they drop out with probability ``p ~ Beta(a, b)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from ._base import ArrayLike, FloatArray, RFMData, TransactionModel, as_float_array


def _branches(p: FloatArray, data: RFMData) -> tuple[FloatArray, ...]:
    """Return the two log-likelihood branches and the x-only parts (per row)."""
    r, alpha, a, b = p
    xu = data.x_unique
    idx = data.x_index
    x, t_x, T = data.x, data.t_x, data.T
    a1 = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha))[idx]
    a2 = (gammaln(a + b) + gammaln(b + xu) - gammaln(b) - gammaln(a + b + xu))[idx]
    log_aT = np.log(alpha + T)
    log_at = np.log(alpha + t_x)
    a3 = -(r + x) * log_aT
    pos = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[pos] = (np.log(a) - np.log(b + x[pos] - 1.0)) - (r + x[pos]) * log_at[pos]
    return a1, a2, a3, a4, log_aT, log_at


class BGNBD(TransactionModel):
    """Beta-geometric/NBD model with parameters ``r, alpha, a, b``."""

    name = "bgnbd"
    param_names = ("r", "alpha", "a", "b")

    def _loglik_grad(self, p: FloatArray, data: RFMData) -> tuple[float, FloatArray]:
        r, alpha, a, b = p
        a1, a2, a3, a4, log_aT, log_at = _branches(p, data)
        lse = np.logaddexp(a3, a4)
        w = data.weights
        ll = float(np.dot(w, a1 + a2 + lse))
        w3 = np.exp(a3 - lse)
        w4 = np.exp(a4 - lse)
        x, idx, xu = data.x, data.x_index, data.x_unique
        pos = x > 0
        inv_b = np.zeros_like(x)
        inv_b[pos] = 1.0 / (b + x[pos] - 1.0)
        psi_rx = digamma(r + xu)[idx]
        psi_abx = digamma(a + b + xu)[idx]
        d_r = psi_rx - digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_at
        d_alpha = r / alpha - (r + x) * (w3 / (alpha + data.T) + w4 / (alpha + data.t_x))
        d_a = digamma(a + b) - psi_abx + w4 / a
        d_b = digamma(a + b) + digamma(b + xu)[idx] - digamma(b) - psi_abx - w4 * inv_b
        grad = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)])
        return ll, grad

    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T); 1 for customers without repeat purchases."""
        r, alpha, a, b = self._p()
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        pos = xa > 0
        log_odds = np.full_like(xa, -np.inf)
        log_odds[pos] = (
            np.log(a)
            - np.log(b + xa[pos] - 1.0)
            + (r + xa[pos]) * (np.log(alpha + Ta[pos]) - np.log(alpha + ta[pos]))
        )
        return np.asarray(np.exp(-np.logaddexp(0.0, log_odds)), dtype=np.float64)

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[number of purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._p()
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        if t <= 0:
            return np.zeros_like(xa)
        hyp = hyp2f1(r + xa, b + xa, a + b + xa - 1.0, t / (alpha + Ta + t))
        ratio = np.exp((r + xa) * (np.log(alpha + Ta) - np.log(alpha + Ta + t)))
        first = (a + b + xa - 1.0) / (a - 1.0) * (1.0 - ratio * hyp)
        return np.asarray(first * self.probability_alive(xa, ta, Ta), dtype=np.float64)

    def expected_purchases_unconditional(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (FHL 2005, eq. 9)."""
        r, alpha, a, b = self._p()
        ta = as_float_array(t, "t")
        hyp = hyp2f1(r, b, a + b - 1.0, ta / (alpha + ta))
        return np.asarray(
            (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + ta)) ** r * hyp),
            dtype=np.float64,
        )
