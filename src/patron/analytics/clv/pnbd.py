"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; their
lifetime is exponential with rate ``mu ~ Gamma(s, beta)``. The likelihood follows Fader & Hardie,
"A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005):

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [ 1 / ((alpha+T)^(r+x) (beta+T)^s) + s * (H(t_x) - H(T)) ]

with ``H(y) = integral_y^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``
``= M^-a 2F1(a, b; a+1; z) / a``
where ``a = r+s+x`` and, for alpha >= beta, ``M = alpha+y, b = s+1, z = (alpha-beta)/M``, else
``M = beta+y, b = r+x, z = (beta-alpha)/M`` (so that always 0 <= z < 1). Everything is in log space.

The gradient is analytic: d/d(params) of ``J(a,b,z) = 2F1(a,b;a+1;z)/a`` comes from its power
series ``J = sum_n (b)_n z^n / (n! (a+n))`` differentiated term by term in a, b and z.

The series converges slowly or overflows when ``z`` is near 1 (one of
alpha, beta much larger than the other and the time small) or when ``b z / (1 - z)`` is large
(many purchases). Those rows use quadrature of the defining integral instead: with
``tau = y + e^v``, ``H(y) = int e^v (alpha+y+e^v)^-(r+x) (beta+y+e^v)^-(s+1) dv`` over the real
line, an integrand analytic in the strip ``|Im v| < pi`` that decays exponentially at both ends,
so the trapezoidal rule converges geometrically (error about ``exp(-2 pi^2 / h)``). Its
derivatives are weighted means of the derivatives of the log-integrand.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from ._base import ArrayLike, FloatArray, RFMData, TransactionModel, as_float_array, log1mexp

_SERIES_MAX_TERMS = 20000
# Rows with z above this, or with b z / (1 - z) above _SERIES_MAX_PEAK, use quadrature.
_SERIES_MAX_Z = 0.9
_SERIES_MAX_PEAK = 200.0
_QUAD_STEP = 0.2
_QUAD_CHUNK = 1 << 18  # grid points per chunk of rows


def _hyp_args(
    p: FloatArray, x: FloatArray, y: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return ``a, b, z, M`` of ``H(y) = M^-a J(a, b, z)`` in the stable branch."""
    r, alpha, s, beta = p
    a = r + s + x
    if alpha >= beta:
        m = alpha + y
        return a, np.full_like(x, s + 1.0), (alpha - beta) / m, m
    m = beta + y
    return a, r + x, (beta - alpha) / m, m


def _slow(a: FloatArray, b: FloatArray, z: FloatArray) -> npt.NDArray[np.bool_]:
    """Rows where the hypergeometric series converges too slowly (or its terms overflow)."""
    with np.errstate(divide="ignore"):
        return np.asarray((z > _SERIES_MAX_Z) | (b * z / (1.0 - z) > _SERIES_MAX_PEAK))


def _h_quadrature(p: FloatArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """log H(y) and its gradient (4, n) by the trapezoidal rule in ``v = log(tau - y)``.

    Each row gets its own grid of step ``_QUAD_STEP`` from well below the integrand's rise
    (``e^v`` a factor e^-40 under ``min(A/k1, B/k2)``) to where its ``e^(-a v)`` tail has
    fallen by e^-45 times the bound on its ratio to the integral; rows are done in chunks.
    """
    r, alpha, s, beta = p
    log_a, log_b = np.log(alpha + y), np.log(beta + y)
    k1 = r + x
    k2 = np.full_like(x, s + 1.0)
    a = k1 + k2 - 1.0
    lo = np.minimum(log_a - np.log(k1), log_b - np.log(k2)) - 40.0
    hi = np.maximum(log_a, log_b) + (45.0 + 0.7 * (a + 1.0)) / a
    counts = np.ceil((hi - lo) / _QUAD_STEP).astype(np.int64) + 1
    log_h = np.empty(x.size)
    grad = np.empty((4, x.size))
    order = np.argsort(counts)
    start = 0
    while start < x.size:
        width = int(counts[order[min(x.size - 1, start)]])
        stop = start + max(1, _QUAD_CHUNK // max(width, 1))
        rows = order[start:stop]
        width = int(counts[rows].max())
        k = np.arange(width)
        v = lo[rows, None] + _QUAD_STEP * k[None, :]
        la = np.logaddexp(log_a[rows, None], v)
        lb = np.logaddexp(log_b[rows, None], v)
        lf = v - k1[rows, None] * la - k2[rows, None] * lb
        lf[k[None, :] >= counts[rows, None]] = -np.inf
        top = lf.max(axis=1, keepdims=True)
        wts = np.exp(lf - top)
        total = wts.sum(axis=1)
        log_h[rows] = top[:, 0] + np.log(total * _QUAD_STEP)
        wts /= total[:, None]
        grad[0, rows] = -(wts * la).sum(axis=1)
        grad[1, rows] = -k1[rows] * (wts * np.exp(-la)).sum(axis=1)
        grad[2, rows] = -(wts * lb).sum(axis=1)
        grad[3, rows] = -k2[rows] * (wts * np.exp(-lb)).sum(axis=1)
        start = stop
    return log_h, grad


def _h_and_grad(p: FloatArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """log H(y) and its gradient w.r.t. (r, alpha, s, beta), shape (4, n).

    Our own power series where it converges fast (one pass gives the value and the gradient
    from the same sums, so they cannot disagree; scipy's ``hyp2f1`` agrees with it to ~1e-14),
    the quadrature elsewhere.
    """
    _, alpha, _, beta = p
    a, b, z, m = _hyp_args(p, x, y)
    slow = _slow(a, b, z)
    log_h = np.empty(a.size)
    grad = np.empty((4, a.size))
    if np.any(slow):
        log_h[slow], grad[:, slow] = _h_quadrature(p, x[slow], y[slow])
    fast = ~slow
    a, b, z, m, y = a[fast], b[fast], z[fast], m[fast], y[fast]
    j, j_a, j_b, j_z = _j_series(a, b, z)
    log_m = np.log(m)
    log_h[fast] = np.log(j) - a * log_m
    ga, gb, gz = j_a / j, j_b / j, j_z / j
    if alpha >= beta:
        g = (-log_m + ga, -a / m + gz * (beta + y) / m**2, -log_m + ga + gb, -gz / m)
    else:
        g = (-log_m + ga + gb, -gz / m, -log_m + ga, -a / m + gz * (alpha + y) / m**2)
    grad[:, fast] = np.vstack(g)
    return log_h, grad


def _log_h(p: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    """log H(y) (see :func:`_h_and_grad`)."""
    return _h_and_grad(p, x, y)[0]


def _dlog_h(p: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    """Gradient of log H(y) w.r.t. (r, alpha, s, beta), shape (4, n)."""
    return _h_and_grad(p, x, y)[1]


def _log_terms(
    p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, ...]:
    """Return (A, B, log H(t_x), log H(T), their gradients): the 'alive at T' and 'died in
    (t_x, T]' terms."""
    r, alpha, s, beta = p
    log_h1, g1 = _h_and_grad(p, x, t_x)
    log_h2, g2 = _h_and_grad(p, x, T)
    log_d = np.full_like(x, -np.inf)
    gap = log_h2 < log_h1
    log_d[gap] = log_h1[gap] + log1mexp(log_h2[gap] - log_h1[gap])
    term_a = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    term_b = np.log(s) + log_d
    return term_a, term_b, log_h1, log_h2, g1, g2


def _j_series(a: FloatArray, b: FloatArray, z: FloatArray) -> tuple[FloatArray, ...]:
    """Return J, dJ/da, dJ/db, dJ/dz for ``J = 2F1(a, b; a+1; z) / a`` by power series."""
    n_rows = a.size
    out = np.zeros((4, n_rows))
    act = np.arange(n_rows)
    aa, bb, zz = a.copy(), b.copy(), z.copy()
    c = np.ones(n_rows)  # (b)_n z^n / n!
    h = np.zeros(n_rows)  # psi(b+n) - psi(b)
    s0, sa, sb, sz = (np.zeros(n_rows) for _ in range(4))
    for n in range(_SERIES_MAX_TERMS):
        inv = 1.0 / (aa + n)
        term = c * inv
        s0 += term
        sa -= term * inv
        sb += term * h
        grow = c * (bb + n)
        sz += grow / (aa + n + 1.0)
        h += 1.0 / (bb + n)
        c = grow * zz / (n + 1.0)
        if n % 8 == 7:
            small = c * (1.0 + h + np.abs(bb + n)) <= 1e-17 * s0 * (1.0 - zz)
            done = small & ((bb + n) * zz < n + 1.0)
            if np.any(done):
                out[:, act[done]] = np.vstack((s0[done], sa[done], sb[done], sz[done]))
                keep = ~done
                act, aa, bb, zz, c, h = act[keep], aa[keep], bb[keep], zz[keep], c[keep], h[keep]
                s0, sa, sb, sz = s0[keep], sa[keep], sb[keep], sz[keep]
            if act.size == 0:
                break
    if act.size:
        out[:, act] = np.vstack((s0, sa, sb, sz))
    return out[0], out[1], out[2], out[3]


class ParetoNBD(TransactionModel):
    """Pareto/NBD model with parameters ``r, alpha, s, beta``."""

    name = "pnbd"
    param_names = ("r", "alpha", "s", "beta")

    def start_values(self, data: RFMData) -> list[float]:
        """As the base class, with ``s = 1`` and ``beta`` = the mean observation time (a mean
        lifetime of the order of the observation period)."""
        r, alpha, _, _ = super().start_values(data)
        mean_t = float(np.dot(data.weights, data.T) / max(data.total_weight, 1e-300))
        return [r, alpha, 1.0, max(mean_t, 1e-6)]

    def _loglik_grad(self, p: FloatArray, data: RFMData) -> tuple[float, FloatArray]:
        r, alpha, s, beta = p
        x, t_x, T, w = data.x, data.t_x, data.T, data.weights
        xu, idx = data.x_unique, data.x_index
        term_a, term_b, log_h1, log_h2, g1, g2 = _log_terms(p, x, t_x, T)
        lse = np.logaddexp(term_a, term_b)
        base = (gammaln(r + xu) - gammaln(r))[idx] + r * np.log(alpha) + s * np.log(beta)
        ll = float(np.dot(w, base + lse))
        wa = np.exp(term_a - lse)
        wb = np.exp(term_b - lse)
        d_a = np.vstack(
            (
                -np.log(alpha + T),
                -(r + x) / (alpha + T),
                -np.log(beta + T),
                np.full_like(x, -s) / (beta + T),
            )
        )
        d_b = np.zeros_like(d_a)
        live = np.isfinite(term_b)
        if np.any(live):
            rho = np.exp(log_h2[live] - log_h1[live])
            d_b[:, live] = (g1[:, live] - rho * g2[:, live]) / (1.0 - rho)
        d_b[2] += 1.0 / s
        d_base = np.vstack(
            (
                (digamma(r + xu) - digamma(r))[idx] + np.log(alpha),
                np.full_like(x, r / alpha),
                np.full_like(x, np.log(beta)),
                np.full_like(x, s / beta),
            )
        )
        grad = (d_base + wa * d_a + wb * d_b) @ w
        return ll, np.asarray(grad, dtype=np.float64)

    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T) = (alive-at-T term) / likelihood."""
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        term_a, term_b, *_ = _log_terms(self._p(), xa, ta, Ta)
        return np.asarray(np.exp(term_a - np.logaddexp(term_a, term_b)), dtype=np.float64)

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T+t] | x, t_x, T] = P(alive) (r+x)(beta+T)/((alpha+T)(s-1)) [...]."""
        r, alpha, s, beta = self._p()
        xa, ta, Ta = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        if t <= 0:
            return np.zeros_like(xa)
        log_q = np.log(beta + Ta) - np.log(beta + Ta + t)
        part = (r + xa) / (alpha + Ta) * (beta + Ta) * _one_minus_pow_over(log_q, s - 1.0)
        return np.asarray(part * self.probability_alive(xa, ta, Ta), dtype=np.float64)

    def expected_purchases_unconditional(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]."""
        r, alpha, s, beta = self._p()
        ta = as_float_array(t, "t")
        log_q = np.log(beta) - np.log(beta + ta)
        return np.asarray(r * beta / alpha * _one_minus_pow_over(log_q, s - 1.0))


def _one_minus_pow_over(log_q: FloatArray, k: float) -> FloatArray:
    """(1 - q^k) / k, continuous at k = 0 (where it is -log q)."""
    if abs(k) < 1e-12:
        return np.asarray(-log_q)
    return np.asarray(-np.expm1(k * log_q) / k)
