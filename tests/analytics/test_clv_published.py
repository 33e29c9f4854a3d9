"""Reproduce the published CDNOW estimates (weeks, 2,357 customers of the 1/10 sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.analytics.clv import BGNBD, MBGNBD, GammaGamma, ParetoNBD, collapse_rfm


def _fit(model: BGNBD | ParetoNBD | MBGNBD, s: pd.DataFrame) -> dict[str, float]:
    res = model.fit(s["x"], s["t_x"], s["T"])
    assert res.converged, res.message
    return {**res.params, "LL": res.log_likelihood}


def test_bgnbd_fader_hardie_lee_2005(cdnow_summary: pd.DataFrame) -> None:
    got = _fit(BGNBD(), cdnow_summary)
    want = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in want.items():
        assert round(got[k], 3) == v, (k, got[k])
    assert round(got["LL"], 1) == -9582.4


def test_pareto_nbd_fader_hardie_lee_2005(cdnow_summary: pd.DataFrame) -> None:
    got = _fit(ParetoNBD(), cdnow_summary)
    for k, v in {"r": 0.553, "alpha": 10.578, "s": 0.606}.items():
        assert round(got[k], 3) == v, (k, got[k])
    # The MLE is beta = 11.66791 (same to 1e-7 from several starting points, gradient ~1e-9);
    # the quoted 11.669 is off by one in the third decimal (s and beta lie on a flat ridge: the
    # LL at the quoted rounded point is only 8e-5 lower). Assert what we can justify.
    assert got["beta"] == pytest.approx(11.668, abs=1.5e-3)
    assert round(got["LL"], 1) == -9595.0


def test_mbgnbd_lifetimes_documented(cdnow_summary: pd.DataFrame) -> None:
    got = _fit(MBGNBD(), cdnow_summary)
    want = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    for k, v in want.items():
        assert round(got[k], 3) == v, (k, got[k])
    assert round(got["LL"], 1) == -9582.1


def test_gamma_gamma_fader_hardie_2013(cdnow_summary: pd.DataFrame) -> None:
    repeat = cdnow_summary[cdnow_summary["x"] > 0]
    assert len(repeat) == 946
    res = GammaGamma().fit(repeat["x"], repeat["zbar"])
    assert res.converged
    # Published to 2 decimals: p = 6.25, q = 3.74, gamma = 15.44 (lifetimes' docs: 15.45).
    # The MLE is gamma = 15.4477, which rounds to 15.45; we assert the 3-decimal values we find.
    assert round(res.params["p"], 3) == 6.249
    assert round(res.params["q"], 3) == 3.745
    assert round(res.params["gamma"], 3) == 15.448
    assert round(res.params["p"], 2) == 6.25 and round(res.params["q"], 2) == 3.74
    assert round(res.log_likelihood, 1) == -4055.9


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD, MBGNBD])
def test_weighted_collapsed_fit_equals_full_fit(
    cls: type[BGNBD], cdnow_summary: pd.DataFrame
) -> None:
    s = cdnow_summary
    rows = collapse_rfm(s["x"], s["t_x"], s["T"])
    assert rows.n_rows < len(s)
    assert rows.weights.sum() == len(s)
    full = cls().fit(s["x"], s["t_x"], s["T"])
    coll = cls().fit(rows.x, rows.t_x, rows.T, rows.weights)
    assert coll.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-12, abs=1e-8)
    for k in full.params:
        assert coll.params[k] == pytest.approx(full.params[k], rel=1e-5)
    # and the LL of the collapsed rows at the same parameters is the same number
    m = cls(full.params)
    assert m.log_likelihood(rows.x, rows.t_x, rows.T, rows.weights) == pytest.approx(
        m.log_likelihood(s["x"], s["t_x"], s["T"]), rel=1e-13
    )


def test_gamma_gamma_weighted_equals_repeated(cdnow_summary: pd.DataFrame) -> None:
    rep = cdnow_summary[cdnow_summary["x"] > 0]
    grouped = rep.groupby(["x", "zbar"]).size().reset_index(name="w")
    full = GammaGamma().fit(rep["x"], rep["zbar"])
    coll = GammaGamma().fit(grouped["x"], grouped["zbar"], grouped["w"])
    for k in full.params:
        assert coll.params[k] == pytest.approx(full.params[k], rel=1e-6)
    assert np.isclose(coll.log_likelihood, full.log_likelihood, rtol=1e-12)
