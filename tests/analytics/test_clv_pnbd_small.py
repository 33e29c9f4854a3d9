"""Pareto/NBD on small and edge data sets: the optimum has a zero gradient, the likelihood agrees
with an independent evaluation (scipy's adaptive quadrature of the defining integral), and the
quadrature fallback of the hypergeometric term agrees with the series where both apply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from patron.analytics.clv import BGNBD, GammaGamma, ParetoNBD
from patron.analytics.clv import pnbd as pnbd_module


def _simulate(n: int, params: tuple[float, float, float, float], T: float, seed: int) -> tuple:
    """Pareto/NBD histories: Poisson purchases at rate lambda until an exponential death."""
    r, alpha, s, beta = params
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    death = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * death).astype(float)
    t_x = np.where(x > 0, death * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    return x, t_x, np.full(n, T)


def _independent_ll(p: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    """Total log-likelihood from Fader & Hardie (2005), eq. (2), with the 'died in (t_x, T]'
    integral done by scipy.quad over ``log(beta + tau)``, scaled by its largest term so nothing
    under- or overflows."""
    r, alpha, s, beta = p
    total = 0.0
    for xi, ti, Ti in zip(x, t_x, T, strict=True):
        log_alive = -(r + xi) * np.log(alpha + Ti) - s * np.log(beta + Ti)

        def log_died(u: float, xi: float = xi) -> float:
            # integrand s (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau with u = log(beta + tau)
            return float(np.log(s) - (r + xi) * np.log(alpha - beta + np.exp(u)) - s * u)

        lo, hi = np.log(beta + ti), np.log(beta + Ti)
        top = max(log_alive, log_died(lo))  # the integrand decreases in u

        def died(u: float, top: float = top) -> float:
            return float(np.exp(log_died(u) - top))

        dead = quad(died, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0] if Ti > ti else 0.0
        total += gammaln(r + xi) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        total += top + np.log(np.exp(log_alive - top) + dead)
    return float(total)


def test_small_fit_has_zero_gradient_and_matches_independent_ll() -> None:
    x, t_x, T = _simulate(60, (0.6, 8.0, 0.8, 12.0), 39.0, seed=11)
    model = ParetoNBD()
    res = model.fit(x, t_x, T)
    assert res.converged, res.message
    assert res.gradient_norm <= 1e-9
    p = np.array([res.params[k] for k in model.param_names])
    ll, grad = model.loglik_and_gradient(p, x, t_x, T)
    assert ll == res.log_likelihood
    assert np.max(np.abs(grad * p)) <= 1e-6
    assert ll == pytest.approx(_independent_ll(p, x, t_x, T), rel=1e-11)


def test_fit_is_invariant_to_the_time_unit_up_to_huge_T() -> None:
    x, t_x, T = _simulate(400, (0.8, 6.0, 0.5, 8.0), 39.0, seed=2)
    base = ParetoNBD().fit(x, t_x, T)
    assert base.converged, base.message
    for c in (7.0, 1e4):  # days instead of weeks; then T of about 400,000
        scaled = ParetoNBD().fit(x, t_x * c, T * c)
        assert scaled.converged, scaled.message
        for k in ("r", "s"):
            assert scaled.params[k] == pytest.approx(base.params[k], rel=1e-7)
        for k in ("alpha", "beta"):
            assert scaled.params[k] == pytest.approx(base.params[k] * c, rel=1e-7)
        # the purchase-time densities pick up 1/c per repeat purchase
        shift = x.sum() * np.log(c)
        assert scaled.log_likelihood == pytest.approx(base.log_likelihood - shift, rel=1e-11)


def test_all_zero_frequencies_fit_to_the_supremum() -> None:
    # Nobody bought again: the likelihood's supremum is 1 (LL 0), approached as r/alpha -> 0.
    x = np.zeros(4)
    T = np.array([10.0, 20.0, 30.0, 40.0])
    model = ParetoNBD()
    res = model.fit(x, x, T)
    assert -1e-6 < res.log_likelihood <= 0.0
    p = np.array([res.params[k] for k in model.param_names])
    assert np.all(np.isfinite(p)) and np.all(p > 0)
    assert res.log_likelihood == pytest.approx(_independent_ll(p, x, x, T), abs=1e-12)


def test_degenerate_history_is_not_reported_converged() -> None:
    # One customer: the MLE is at infinity (r, alpha -> inf with r/alpha fixed); the gradient
    # at the point where the optimiser stops is not zero, and the flag says so.
    res = ParetoNBD().fit([3.0], [10.0], [20.0])
    assert not res.converged
    assert res.gradient_norm > 1e-7


@pytest.mark.parametrize(
    "params",
    [
        (0.05, 5000.0, 0.3, 0.5),  # alpha >> beta: z near 1 in the alpha >= beta branch
        (0.4, 0.02, 2.0, 900.0),  # beta >> alpha: z near 1 in the other branch
        (3.0, 2.0, 0.7, 40.0),  # many purchases: b z / (1 - z) large
    ],
)
def test_quadrature_branch_matches_independent_ll_and_finite_differences(
    params: tuple[float, float, float, float],
) -> None:
    x = np.array([0.0, 1.0, 2.0, 5.0, 40.0, 150.0])
    t_x = np.array([0.0, 0.5, 3.0, 20.0, 30.0, 38.0])
    T = np.full(6, 39.0)
    p = np.array(params)
    a, b, z, _ = pnbd_module._hyp_args(p, x, t_x)
    assert np.any(pnbd_module._slow(a, b, z))
    model = ParetoNBD()
    ll, grad = model.loglik_and_gradient(p, x, t_x, T)
    assert ll == pytest.approx(_independent_ll(p, x, t_x, T), rel=1e-11)
    num = np.empty(4)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * p[i]
        up = model.loglik_and_gradient(p + e, x, t_x, T)[0]
        down = model.loglik_and_gradient(p - e, x, t_x, T)[0]
        num[i] = (up - down) / (2 * e[i])
    np.testing.assert_allclose(grad * p, num * p, rtol=1e-6, atol=1e-7)


def test_quadrature_agrees_with_the_series_where_both_apply() -> None:
    rng = np.random.default_rng(1)
    x = np.array([0.0, 1.0, 3.0, 10.0, 40.0])
    for _ in range(40):
        p = np.exp(rng.uniform(np.log(0.05), np.log(50.0), 4))
        y = rng.uniform(0.0, 60.0, x.size)
        a, b, z, _ = pnbd_module._hyp_args(p, x, y)
        fast = ~pnbd_module._slow(a, b, z)
        log_q, grad_q = pnbd_module._h_quadrature(p, x[fast], y[fast])
        np.testing.assert_allclose(log_q, pnbd_module._log_h(p, x[fast], y[fast]), rtol=1e-13)
        np.testing.assert_allclose(
            grad_q, pnbd_module._dlog_h(p, x[fast], y[fast]), rtol=1e-11, atol=1e-13
        )


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD])
def test_polish_reaches_rounding_level_on_cdnow(cls: type[BGNBD], cdnow_summary) -> None:  # type: ignore[no-untyped-def]
    s = cdnow_summary
    res = cls().fit(s["x"], s["t_x"], s["T"])
    assert res.converged and res.gradient_norm <= 1e-12, res.message


def test_gamma_gamma_start_values_follow_the_currency_unit(cdnow_summary) -> None:  # type: ignore[no-untyped-def]
    rep = cdnow_summary[cdnow_summary["x"] > 0]
    dollars = GammaGamma().fit(rep["x"], rep["zbar"])
    cents = GammaGamma().fit(rep["x"], rep["zbar"] * 100.0)
    assert cents.converged, cents.message
    assert cents.params["p"] == pytest.approx(dollars.params["p"], rel=1e-8)
    assert cents.params["q"] == pytest.approx(dollars.params["q"], rel=1e-8)
    assert cents.params["gamma"] == pytest.approx(dollars.params["gamma"] * 100.0, rel=1e-8)
