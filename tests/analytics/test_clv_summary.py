"""RFM summary from raw transactions, collapsing, holdout validation, the one-call entry point."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from patron.analytics.clv import (
    BGNBD,
    clv_from_transactions,
    collapse_rfm,
    fit_model,
    holdout_validation,
    rfm_summary,
)

CAL_END = "1997-09-30"
OBS_END = "1998-06-30"


@pytest.fixture(scope="module")
def sample_summary(cdnow_sample_raw: pd.DataFrame) -> pd.DataFrame:
    return rfm_summary(cdnow_sample_raw, "id", "date", "amount", CAL_END, OBS_END, freq="W")


def test_summary_reproduces_papers_x_tx_T(
    sample_summary: pd.DataFrame, cdnow_summary: pd.DataFrame
) -> None:
    ref = cdnow_summary.set_index("ID")
    assert len(sample_summary) == len(ref) == 2357
    got = sample_summary.reindex(ref.index)
    np.testing.assert_array_equal(got["x"].to_numpy(), ref["x"].to_numpy())
    half_cent = 0.005 + 1e-9  # the CSV is rounded to 2 decimals
    for ours, theirs in (("t_x", "t_x"), ("T", "T"), ("monetary", "zbar")):
        diff = np.abs(got[ours].to_numpy() - ref[theirs].to_numpy())
        assert diff.max() <= half_cent, (ours, diff.max())
    assert (got["duration_holdout"] == 39.0).all()


def test_summary_days_and_same_day_rule() -> None:
    df = pd.DataFrame(
        {
            "c": ["a", "a", "a", "a", "b", "c"],
            "d": [
                "2024-01-01 00:00",
                "2024-01-01 15:00",
                "2024-01-05 00:00",
                "2024-01-11 09:30",
                "2024-01-03 00:00",
                "2024-01-12 00:00",
            ],
            "v": [1.0, 2.0, 4.0, 6.0, 5.0, 9.0],
        }
    )
    s = rfm_summary(df, "c", "d", "v", calibration_end="2024-01-10", observation_end="2024-01-20")
    assert list(s.index) == ["a", "b"]  # c's first purchase is after the calibration end
    a = s.loc["a"]
    assert (a["x"], a["t_x"], a["T"], a["monetary"]) == (1.0, 4.0, 9.0, 4.0)
    assert (a["x_holdout"], a["duration_holdout"]) == (1.0, 10.0)
    b = s.loc["b"]
    assert (b["x"], b["t_x"], b["T"], b["monetary"], b["x_holdout"]) == (0.0, 0.0, 7.0, 0.0, 0.0)


def test_collapse_round_trip(cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    rows = collapse_rfm(s["x"], s["t_x"], s["T"])
    np.testing.assert_array_equal(rows.x[rows.inverse], s["x"].to_numpy())
    np.testing.assert_array_equal(rows.t_x[rows.inverse], s["t_x"].to_numpy())
    np.testing.assert_array_equal(rows.T[rows.inverse], s["T"].to_numpy())
    keys = set(zip(s["x"], s["t_x"], s["T"], strict=True))
    assert rows.n_rows == len(keys)


def test_holdout_validation_exact_actual_counts(
    sample_summary: pd.DataFrame, cdnow_sample_raw: pd.DataFrame
) -> None:
    model = fit_model("bgnbd", sample_summary)
    assert isinstance(model, BGNBD)
    rows = holdout_validation(model, sample_summary)
    by = {r["bucket"]: r for r in rows}
    # Holdout purchases (same-day purchases as one) counted straight from the raw file.
    raw = cdnow_sample_raw
    hold = raw[(raw["date"] > CAL_END) & (raw["date"] <= OBS_END)].drop_duplicates(["id", "date"])
    assert len(hold) == 1882
    per_customer = hold.groupby("id").size()
    x = sample_summary["x"].clip(upper=7).astype(int)
    expected = per_customer.reindex(sample_summary.index, fill_value=0).groupby(x).sum()
    want_actual = {"0": 334, "1": 306, "2": 298, "3": 156, "4": 157, "5": 112, "6": 112, "7+": 407}
    want_customers = {"0": 1411, "1": 439, "2": 214, "3": 100, "4": 62, "5": 38, "6": 29, "7+": 64}
    for k, v in want_actual.items():
        assert by[k]["actual"] == v == expected[7 if k == "7+" else int(k)]
        assert by[k]["customers"] == want_customers[k]
    assert by["all"]["actual"] == 1882 and by["all"]["customers"] == 2357
    # Predictions: positive, increasing in frequency, total within 15% of the actual (the model
    # under-predicts the CDNOW holdout, as in Fader, Hardie & Lee 2005, fig. 4).
    means = [by[k]["predicted_mean"] for k in want_actual]
    assert all(b > a for a, b in itertools.pairwise(means))
    assert by["all"]["predicted"] == pytest.approx(1882, rel=0.15)
    assert sum(by[k]["predicted"] for k in want_actual) == pytest.approx(by["all"]["predicted"])


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd", "gg"])
def test_clv_from_transactions_is_json_able(cdnow_sample_raw: pd.DataFrame, model: str) -> None:
    out = clv_from_transactions(
        cdnow_sample_raw,
        "id",
        "date",
        "amount",
        CAL_END,
        model=model,
        freq="W",  # type: ignore[arg-type]
    )
    text = json.dumps(out)
    back = json.loads(text)
    assert back["model"] == model and back["n_customers"] == 2357
    assert back["observation_end"] == "1998-06-30"
    assert back["converged"] is True
    if model == "gg":
        assert back["holdout"] == [] and set(back["params"]) == {"p", "q", "gamma"}
    else:
        assert [r["bucket"] for r in back["holdout"]][-1] == "all"
        assert back["holdout"][-1]["actual"] == 1882
    if model == "bgnbd":
        assert round(back["log_likelihood"], 1) == -9582.4


def test_fit_model_rejects_unknown_name(cdnow_summary: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        fit_model("nbd", cdnow_summary)
