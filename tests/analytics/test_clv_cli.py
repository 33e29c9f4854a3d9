"""``patron analytics clv``: fit a model on a transaction file, print JSON; bad input exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.cli import app
from tests.analytics.conftest import cdnow_file

runner = CliRunner()
BASE = [
    "analytics",
    "clv",
    "--customer-col",
    "customer",
    "--date-col",
    "date",
    "--amount-col",
    "amount",
    "--calibration-end",
    "1997-09-30",
]


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CDNOW's 1/10 sample as a plain CSV with a header (what a merchant would export)."""
    raw = pd.read_csv(
        cdnow_file("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["orig", "customer", "date", "cds", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_sample.csv"
    raw[["customer", "date", "amount"]].to_csv(path, index=False)
    return path


def test_bgnbd_weekly_reproduces_fader_hardie_lee(sample_csv: Path) -> None:
    r = runner.invoke(
        app, [*BASE, "--transactions", str(sample_csv), "--model", "bgnbd", "--freq", "W", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["model"] == "bgnbd" and out["n_customers"] == 2357
    want = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert {k: round(v, 3) for k, v in out["params"].items()} == want
    assert round(out["log_likelihood"], 1) == -9582.4
    assert out["observation_end"] == "1998-06-30"
    assert out["holdout"][-1]["bucket"] == "all"
    assert out["holdout"][-1]["actual"] == 1882
    assert out["holdout"][-1]["customers"] == 2357


def test_gamma_gamma_and_text_output(sample_csv: Path) -> None:
    r = runner.invoke(
        app, [*BASE, "--transactions", str(sample_csv), "--model", "gg", "--freq", "W", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert round(out["params"]["p"], 2) == 6.25 and round(out["params"]["q"], 2) == 3.74
    assert out["holdout"] == []
    text = runner.invoke(app, [*BASE, "--transactions", str(sample_csv), "--freq", "W"])
    assert text.exit_code == 0, text.output
    assert "bgnbd: 2357 customers, log-likelihood -9582.4" in text.stdout
    assert "  r = 0.24" in text.stdout


def test_master_file_read_as_published(tmp_path: Path) -> None:
    """The raw master file (gzip, blanks between columns, dates as 19970101) reads as it is."""
    master = cdnow_file("CDNOW_master.txt.gz")
    args = [
        "analytics",
        "clv",
        "--transactions",
        str(master),
        "--sep",
        "whitespace",
        "--customer-col",
        "customer_id",
        "--date-col",
        "date",
        "--amount-col",
        "dollar_value",
        "--date-format",
        "%Y%m%d",
        "--calibration-end",
        "1997-09-30",
        "--freq",
        "W",
        "--json",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_customers"] == 23570 and out["converged"] is True
    assert out["holdout"][-1]["customers"] == 23570


def _fails(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 1, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def test_bad_input_exits_1_with_one_line(sample_csv: Path, tmp_path: Path) -> None:
    assert "no such file" in _fails([*BASE, "--transactions", str(tmp_path / "nope.csv")])
    line = _fails([*BASE[:3], "client", *BASE[4:], "--transactions", str(sample_csv)])
    assert "column 'client' is not in cdnow_sample.csv" in line
    bad = tmp_path / "bad.csv"
    bad.write_text("customer,date,amount\n1,1997-01-01,3.5\n2,not-a-date,4\n")
    assert "bad date 'not-a-date' in column 'date' (row 3)" in _fails(
        [*BASE, "--transactions", str(bad)]
    )
    bad.write_text("customer,date,amount\n1,1997-01-01,lots\n")
    assert "bad amount 'lots'" in _fails([*BASE, "--transactions", str(bad)])
    assert "--calibration-end must be a date" in _fails(
        [*BASE[:-1], "30/09/1997", "--transactions", str(sample_csv)]
    )
    assert "--model must be one of" in _fails(
        [*BASE, "--transactions", str(sample_csv), "--model", "nbd"]
    )
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x00garbage")
    assert "cannot read" in _fails([*BASE, "--transactions", str(binary)])
