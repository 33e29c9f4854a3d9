"""The analytics copy as the pages and the report use it: read at once, synced in the background.

A DuckDB file accepts one process at a time: processes take turns on it through
:mod:`patron.analytics.copy_lock`. Inside a process every user opens its own connection to it
(DuckDB shares one database between the connections of a process and isolates them by MVCC),
so a page reads the copy while a sync writes it (ADR 0506). One sync runs at a time per process
(:func:`start_sync`); the pages never wait for one. ``patron report`` and the CLI use
:func:`open_copy`, which syncs first when the copy is stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
from sqlalchemy import Engine

from patron.analytics.copy_lock import PAGE_WAIT_SECONDS, copy_connection, hold_copy
from patron.analytics.sync import COMPLETE, STATE_TABLE, sync

log = logging.getLogger("patron.analytics.store")
_sync_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


@dataclass
class Copy:
    """An open analytics copy: the Ibis connection and when it was last synced (UTC)."""

    con: Any
    synced_at: datetime | None
    synced_now: bool


@dataclass(frozen=True)
class CopyState:
    """How fresh the copy is: when its last complete sync ended (naive UTC; None: never) and
    whether a sync is running in this process now."""

    synced_at: datetime | None
    syncing: bool

    def stale(self, max_age_minutes: float) -> bool:
        # Wall-clock on purpose: freshness of a cache, not a business time.
        now = datetime.now(UTC).replace(tzinfo=None)
        return self.synced_at is None or now - self.synced_at > timedelta(minutes=max_age_minutes)


def last_sync(duck: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the copy was last brought up to date (naive UTC): the end of its last complete
    sync. None while the first sync is still running (some tables are not there yet), and for
    a copy written before complete syncs were recorded (the next sync records one)."""
    found = duck.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [STATE_TABLE]
    ).fetchall()
    if found == [(0,)]:
        return None
    rows = duck.execute(
        f"SELECT max(synced_at) FROM {STATE_TABLE} WHERE table_name = ?", [COMPLETE]
    ).fetchall()
    value = rows[0][0]
    return value if isinstance(value, datetime) else None


def copy_state(path: str) -> CopyState:
    """The copy's freshness, read without holding it open."""
    syncing = is_syncing(path)
    if not Path(path).exists():
        return CopyState(None, syncing)
    with copy_connection(path, PAGE_WAIT_SECONDS) as duck:
        return CopyState(last_sync(duck), syncing)


def is_syncing(path: str) -> bool:
    with _threads_lock:
        thread = _threads.get(path)
        return thread is not None and thread.is_alive()


def start_sync(engine: Engine, path: str, then: Callable[[], None] | None = None) -> bool:
    """Bring the copy up to date in a background thread, then call ``then`` (the page cache
    warms the views it will be asked for). False when a sync of ``path`` is already running."""
    with _threads_lock:
        running = _threads.get(path)
        if running is not None and running.is_alive():
            return False
        thread = threading.Thread(
            target=_sync_then, args=(engine, path, then), name="analytics-sync", daemon=True
        )
        _threads[path] = thread
        thread.start()
    return True


def _sync_then(engine: Engine, path: str, then: Callable[[], None] | None) -> None:
    try:
        sync_now(engine, path)
        if then is not None:
            then()
    except Exception:  # a background thread has no caller to raise to: log it
        log.exception("analytics sync failed", extra={"path": path})


def sync_now(engine: Engine, path: str) -> None:
    """Sync the copy at ``path`` in this thread (one sync at a time in the process)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with _sync_lock, copy_connection(path) as duck:
        sync(engine, duck)


def wait_for_syncs(timeout: float = 60.0) -> None:
    """Wait until no background sync is running (tests, and a clean shutdown)."""
    with _threads_lock:
        threads = list(_threads.values())
    for thread in threads:
        thread.join(timeout)


@contextmanager
def read_copy(path: str) -> Iterator[Any]:
    """An Ibis connection on the copy for one page's queries (its own DuckDB connection)."""
    with copy_connection(path, PAGE_WAIT_SECONDS) as duck:
        yield ibis.duckdb.from_connection(duck)


@contextmanager
def open_copy(
    path: str, engine: Engine, max_age_minutes: float, *, force_sync: bool = False
) -> Iterator[Copy]:
    """Open the copy at ``path``; sync it from ``engine`` first when it is older than
    ``max_age_minutes`` (or never synced, or ``force_sync``)."""
    with hold_copy(path):
        state = copy_state(path)
        synced_now = force_sync or state.stale(max_age_minutes)
        if synced_now:
            sync_now(engine, path)
        with copy_connection(path) as duck:
            yield Copy(ibis.duckdb.from_connection(duck), last_sync(duck), synced_now)
