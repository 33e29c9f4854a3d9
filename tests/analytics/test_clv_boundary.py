"""A fit that runs to the edge of the parameter space is not "converged" (ADR 0508).

On CDNOW's first two months (weekly), BG/NBD's ``a`` runs to 3e-9: the likelihood keeps
rising as the drop-out probability goes to 0, the gradient there is tiny, and the fit used to
report ``converged: true``. On the first month of the full CDNOW file ``a`` and ``b`` drift off
together (a ridge: a → 0, b → ∞): the curvature along the ridge is nil. Both now say
``converged: false`` with the reason; the published fit on the whole calibration period stays
converged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.analytics.clv import rfm_summary
from patron.analytics.clv.api import clv_from_transactions, fit_model
from patron.cli import app
from tests.analytics.conftest import cdnow_file

runner = CliRunner()


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    raw = pd.read_csv(
        cdnow_file("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["orig", "customer", "date", "cds", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def test_parameter_at_the_edge_is_not_converged(sample: pd.DataFrame) -> None:
    first_two_months = sample[sample["date"] < "1997-03-01"]
    out = clv_from_transactions(
        first_two_months, "customer", "date", "amount", "1997-02-28", model="bgnbd", freq="W"
    )
    assert out["params"]["a"] < 1e-6
    assert out["converged"] is False
    assert out["reason"].startswith("a ran to the edge of its range")


def test_a_flat_ridge_is_not_converged() -> None:
    raw = pd.read_csv(cdnow_file("CDNOW_master.txt.gz"), sep=r"\s+", dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    january = raw[raw["date"] < "1997-02-01"]
    summary = rfm_summary(
        january, "customer_id", "date", "dollar_value", pd.Timestamp("1997-01-31"), None, "W"
    )
    model = fit_model("bgnbd", summary)
    assert model.result is not None
    assert model.params is not None and model.params["b"] > 1e3  # a → 0, b → ∞ together
    assert model.result.converged is False
    assert "not identified" in model.result.reason


def test_published_fit_stays_converged(sample: pd.DataFrame) -> None:
    out = clv_from_transactions(
        sample, "customer", "date", "amount", "1997-09-30", model="bgnbd", freq="W"
    )
    assert out["converged"] is True and out["reason"] == ""


def test_cli_reports_the_reason(sample: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "two_months.csv"
    part = sample[sample["date"] < "1997-03-01"].copy()
    part["date"] = part["date"].dt.strftime("%Y-%m-%d")
    part[["customer", "date", "amount"]].to_csv(path, index=False)
    args = [
        "analytics",
        "clv",
        "--transactions",
        str(path),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--calibration-end",
        "1997-02-28",
        "--freq",
        "W",
    ]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["converged"] is False and "edge of its range" in out["reason"]
    r = runner.invoke(app, args)
    assert "converged False (a ran to the edge of its range" in r.stdout
