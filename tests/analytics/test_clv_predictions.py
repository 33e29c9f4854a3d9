"""P(alive), conditional/unconditional expectations and CLV against independent closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from patron.analytics.clv import BGNBD, MBGNBD, GammaGamma, ParetoNBD

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def _hyp2f1_series(a: float, b: float, c: float, z: float) -> float:
    """Plain Gauss series, independent of scipy (|z| < 1)."""
    total, term, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return total


def test_bgnbd_probability_alive_closed_form() -> None:
    m = BGNBD(BG)
    x = np.array([0, 1, 2, 7, 0])
    t_x = np.array([0.0, 1.71, 30.43, 35.0, 0.0])
    T = np.array([38.86, 38.86, 38.86, 38.86, 10.0])
    got = m.probability_alive(x, t_x, T)
    r, al, a, b = BG.values()
    for i in range(x.size):
        if x[i] == 0:
            want = 1.0
        else:
            want = 1 / (1 + a / (b + x[i] - 1) * ((al + T[i]) / (al + t_x[i])) ** (r + x[i]))
        assert got[i] == pytest.approx(want, rel=1e-12)
    assert got[0] == 1.0 and got[4] == 1.0


def test_bgnbd_expectations_closed_form() -> None:
    m = BGNBD(BG)
    r, al, a, b = BG.values()
    x, t_x, T, t = 2, 30.43, 38.86, 39.0
    z = t / (al + T + t)
    hyp = _hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp)
    alive = 1 / (1 + a / (b + x - 1) * ((al + T) / (al + t_x)) ** (r + x))
    assert m.expected_purchases(t, [x], [t_x], [T])[0] == pytest.approx(first * alive, rel=1e-10)
    # E[X(t)] (eq. 9), and a new customer (x = t_x = T = 0) has the unconditional expectation
    hyp0 = _hyp2f1_series(r, b, a + b - 1, t / (al + t))
    uncond = (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp0)
    assert m.expected_purchases_unconditional([t])[0] == pytest.approx(uncond, rel=1e-10)
    assert m.expected_purchases(t, [0], [0], [0])[0] == pytest.approx(uncond, rel=1e-10)
    # slope at 0 is the mean purchase rate r / alpha
    eps = 1e-6
    assert m.expected_purchases_unconditional([eps])[0] / eps == pytest.approx(r / al, rel=1e-4)


@pytest.mark.parametrize("params", [PNBD, {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 3.0}])
def test_pareto_nbd_likelihood_and_alive_by_quadrature(params: dict[str, float]) -> None:
    """The hyp2f1 form (both branches) equals the defining integral over the death time."""
    m = ParetoNBD(params)
    r, al, s, be = params.values()
    for x, t_x, T in ((0, 0.0, 38.86), (2, 30.43, 38.86), (7, 12.0, 38.86), (1, 1.71, 20.0)):
        alive = math.lgamma(r + x) - math.lgamma(r) + r * math.log(al) + s * math.log(be)
        alive_term = math.exp(alive) / ((al + T) ** (r + x) * (be + T) ** s)
        dead, _ = quad(
            lambda u, k=r + x: (al + u) ** -k * (be + u) ** -(s + 1), t_x, T, epsabs=0, epsrel=1e-13
        )
        dead_term = math.exp(alive) * s * dead
        want_ll = math.log(alive_term + dead_term)
        assert m.log_likelihood([x], [t_x], [T]) == pytest.approx(want_ll, rel=1e-10)
        want_alive = alive_term / (alive_term + dead_term)
        assert m.probability_alive([x], [t_x], [T])[0] == pytest.approx(want_alive, rel=1e-9)


def test_pareto_nbd_expectations() -> None:
    m = ParetoNBD(PNBD)
    r, al, s, be = PNBD.values()
    t = 39.0
    uncond = r * be / (al * (s - 1)) * (1 - (be / (be + t)) ** (s - 1))
    assert m.expected_purchases_unconditional([t])[0] == pytest.approx(uncond, rel=1e-12)
    assert m.expected_purchases(t, [0], [0], [0])[0] == pytest.approx(uncond, rel=1e-10)
    x, t_x, T = 2, 30.43, 38.86
    p_alive = m.probability_alive([x], [t_x], [T])[0]
    want = (
        p_alive
        * (r + x)
        * (be + T)
        / ((al + T) * (s - 1))
        * (1 - ((be + T) / (be + T + t)) ** (s - 1))
    )
    assert m.expected_purchases(t, [x], [t_x], [T])[0] == pytest.approx(want, rel=1e-10)


def test_mbgnbd_closed_forms() -> None:
    m = MBGNBD(MBG)
    r, al, a, b = MBG.values()
    # x = 0 is *not* certainly alive in MBG/NBD
    assert m.probability_alive([0], [0], [0])[0] == pytest.approx(b / (a + b), rel=1e-12)
    t = 39.0
    hyp = _hyp2f1_series(r, b + 1, a + b, t / (al + t))
    uncond = b / (a - 1) * (1 - (al / (al + t)) ** r * hyp)
    assert m.expected_purchases_unconditional([t])[0] == pytest.approx(uncond, rel=1e-10)
    assert m.expected_purchases(t, [0], [0], [0])[0] == pytest.approx(uncond, rel=1e-10)


def test_gamma_gamma_profit_and_clv() -> None:
    gg = GammaGamma({"p": 6.25, "q": 3.74, "gamma": 15.44})
    p, q, g = 6.25, 3.74, 15.44
    x, zbar = np.array([1.0, 5.0, 0.0]), np.array([20.0, 40.0, 0.0])
    got = gg.conditional_expected_average_profit(x, zbar)
    pop = p * g / (q - 1)
    for i in range(3):
        w = (q - 1) / (p * x[i] + q - 1)
        assert got[i] == pytest.approx(w * pop + (1 - w) * zbar[i], rel=1e-12)
    # CLV: discounted monthly increments of the conditional expectation, weeks: 4.345 per month
    bg = BGNBD(BG)
    t_x, T = np.array([10.0, 30.0, 0.0]), np.array([38.86, 38.86, 38.86])
    clv = gg.customer_lifetime_value(bg, x, t_x, T, zbar, 12, 0.01, "W")
    want = np.zeros(3)
    for month in range(1, 13):
        inc = bg.expected_purchases(month * 4.345, x, t_x, T) - bg.expected_purchases(
            (month - 1) * 4.345, x, t_x, T
        )
        want += got * inc / 1.01**month
    np.testing.assert_allclose(clv, want, rtol=1e-12)
    assert np.all(clv > 0)


def test_unfitted_model_raises() -> None:
    with pytest.raises(RuntimeError, match="fit the model"):
        BGNBD().probability_alive([1], [1], [2])
