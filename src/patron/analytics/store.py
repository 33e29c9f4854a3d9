"""The analytics copy as the pages and the report use it: synced when stale, one user at a time.

A DuckDB file accepts one writer process; inside Patron's process one lock serialises the
pages' syncs and reads, which also keeps a DuckDB connection on one thread at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
from sqlalchemy import Engine

from patron.analytics.sync import STATE_TABLE, sync

_lock = threading.Lock()


@dataclass
class Copy:
    """An open analytics copy: the Ibis connection and when it was last synced (UTC)."""

    con: Any
    synced_at: datetime | None
    synced_now: bool


def last_sync(duck: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the copy was last brought up to date (naive UTC), None if never."""
    found = duck.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [STATE_TABLE]
    ).fetchall()
    if found == [(0,)]:
        return None
    value = duck.execute(f"SELECT min(synced_at) FROM {STATE_TABLE}").fetchall()[0][0]
    return value if isinstance(value, datetime) else None


@contextmanager
def open_copy(
    path: str, engine: Engine, max_age_minutes: float, *, force_sync: bool = False
) -> Iterator[Copy]:
    """Open the copy at ``path``; sync it from ``engine`` first when it is older than
    ``max_age_minutes`` (or never synced, or ``force_sync``)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        duck = duckdb.connect(path)
        try:
            synced = last_sync(duck)
            # Wall-clock on purpose: freshness of a cache, not a business time.
            now = datetime.now(UTC).replace(tzinfo=None)
            stale = synced is None or now - synced > timedelta(minutes=max_age_minutes)
            if force_sync or stale:
                sync(engine, duck)
                synced = last_sync(duck)
            yield Copy(ibis.duckdb.from_connection(duck), synced, force_sync or stale)
        finally:
            duck.close()
