"""Analytics test fixtures: the CDNOW data (../shared/data/cdnow beside the repo) and one Spark
session for the whole run (it takes seconds to start)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from patron.analytics.engines import connect_duckdb, connect_spark, load_tables, spark_session
from tests.analytics.builders import Shop
from tests.conftest import need_service

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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    need_service(
        None
        if importlib.util.find_spec("pyspark")
        else "PySpark is not installed (the [spark] extra: make test EXTRAS=dev,spark)"
    )
    need_service(None if shutil.which("java") else "Java is not installed (PySpark needs it)")
    session = spark_session("patron-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def duck_of(shop: Shop) -> Any:
    """An in-memory DuckDB analytics copy holding the shop's tables."""
    con = connect_duckdb()
    load_tables(con, shop.frames())
    return con


__all__ = ["connect_spark", "duck_of"]
