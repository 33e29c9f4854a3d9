"""The engines the metric definitions run on: DuckDB (embedded default) and PySpark.

Both are Ibis backends; every metric is an Ibis expression, so the same definition runs on
either (ADR 0500). Nothing here downloads anything at run time: DuckDB reads its own file and
Spark runs in local mode with its UI off.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from patron.analytics.facts import forget_tables


def connect_duckdb(path: str | None = None, *, read_only: bool = False) -> Any:
    """An Ibis DuckDB connection on the analytics copy (in memory when ``path`` is None)."""
    if path is None:
        return ibis.duckdb.connect()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return ibis.duckdb.connect(path, read_only=read_only)


def spark_session(app_name: str = "patron-analytics", cores: int = 1) -> Any:
    """A local Spark session: ``local[cores]``, few shuffle partitions, no UI, UTC clock.

    Timestamps in the analytics copy are naive merchant-local wall-clock times; a UTC session
    time zone makes Spark read and write them unchanged.
    """
    from pyspark.sql import SparkSession  # optional dependency: imported only when asked for

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
        .config("spark.default.parallelism", str(max(2, cores * 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.ansi.enabled", "false")
        # Managed tables go to a private temporary folder, never the working directory.
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="patron-spark-"))
        .getOrCreate()
    )


def connect_spark(session: Any) -> Any:
    """An Ibis PySpark connection on an existing Spark session."""
    return ibis.pyspark.connect(session)


def load_tables(con: Any, tables: Mapping[str, pa.Table | pd.DataFrame]) -> None:
    """Create (or replace) tables on a backend, e.g. a Parquet export loaded into Spark."""
    for name, data in tables.items():
        frame = data.to_pandas() if isinstance(data, pa.Table) else data
        con.create_table(name, frame, overwrite=True)
    forget_tables(con)
