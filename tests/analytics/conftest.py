"""One Spark session for the whole test run (it takes seconds to start)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from patron.analytics.engines import connect_duckdb, connect_spark, load_tables, spark_session
from tests.analytics.builders import Shop
from tests.conftest import need_service


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
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
