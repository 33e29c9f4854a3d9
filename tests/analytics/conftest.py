"""Fixtures for the analytics tests: the CDNOW data in ../shared/data/cdnow (beside the repo)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / ".." / "shared" / "data" / "cdnow"


def _data_dir() -> Path:
    """``../shared/data/cdnow`` beside the repo (CI, /work/main); a git worktree kept one level
    deeper (e.g. /work/wt/NAME) finds it beside its grandparent instead."""
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = base / "shared" / "data" / "cdnow"
        if candidate.is_dir():
            return candidate
    return DATA_DIR


def cdnow_file(name: str) -> Path:
    """Path of a CDNOW file, failing with a clear message when the shared data is missing."""
    path = _data_dir() / name
    if not path.exists():
        pytest.fail(
            f"CDNOW data file missing: {path.resolve()} (expected the shared data folder "
            "'shared/data/cdnow' beside the repository checkout)"
        )
    return path


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """The papers' summary of the CDNOW sample: ID, x, t_x, T, zbar (weeks)."""
    return pd.read_csv(cdnow_file("cdnow_customers_summary_with_transactions.csv"))


@pytest.fixture(scope="session")
def cdnow_sample_raw() -> pd.DataFrame:
    """The raw CDNOW 1/10 sample transactions (no header in the file)."""
    raw = pd.read_csv(
        cdnow_file("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["orig_id", "id", "date", "cds", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw
