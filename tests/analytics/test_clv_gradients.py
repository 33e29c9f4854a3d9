"""Analytic gradients against finite differences at random parameter points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from patron.analytics.clv import BGNBD, MBGNBD, GammaGamma, ParetoNBD


def _central(f, p: np.ndarray, rel: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Central differences (approx_fprime's forward differences are too coarse near 0)."""
    g = np.empty_like(p)
    for i in range(p.size):
        h = rel * p[i]
        e = np.zeros_like(p)
        e[i] = h
        g[i] = (f(p + e) - f(p - e)) / (2 * h)
    return g


def _random_points(seed: int, n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.exp(rng.uniform(np.log(0.1), np.log(20.0), size=4)) for _ in range(n)]


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD, MBGNBD])
def test_transaction_model_gradient(cls: type[BGNBD], cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    m = cls()
    x, t_x, T = s["x"].to_numpy(), s["t_x"].to_numpy(), s["T"].to_numpy()
    points = _random_points(7)
    if cls is ParetoNBD:  # both hypergeometric branches (alpha >= beta and beta > alpha)
        points += [np.array([0.55, 10.6, 0.61, 11.7]), np.array([0.55, 11.7, 0.61, 10.6])]
    for p in points:

        def ll(q: np.ndarray) -> float:
            return m.loglik_and_gradient(q, x, t_x, T)[0]

        _, grad = m.loglik_and_gradient(p, x, t_x, T)
        num = _central(ll, p)
        np.testing.assert_allclose(grad, num, rtol=2e-5, atol=1e-3 * max(1.0, abs(ll(p)) * 1e-6))
        fwd = approx_fprime(p, ll, 1e-6 * p)
        np.testing.assert_allclose(grad, fwd, rtol=1e-2, atol=0.5)


def test_gamma_gamma_gradient(cdnow_summary: pd.DataFrame) -> None:
    rep = cdnow_summary[cdnow_summary["x"] > 0]
    gg = GammaGamma()
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = np.exp(rng.uniform(np.log(0.5), np.log(30.0), size=3))

        def ll(q: np.ndarray) -> float:
            return gg.loglik_and_gradient(q, rep["x"], rep["zbar"])[0]

        _, grad = gg.loglik_and_gradient(p, rep["x"], rep["zbar"])
        np.testing.assert_allclose(grad, _central(ll, p), rtol=2e-5, atol=1e-3)
