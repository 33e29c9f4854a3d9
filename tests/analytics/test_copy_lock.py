"""Several processes on one analytics copy (``patron serve --workers N``, a separate worker): they
take turns instead of failing on DuckDB's file lock, and the day's predictions run once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.copy_lock import CopyBusy, hold_copy
from patron.analytics.models import MemberPrediction
from patron.analytics.predict_run import predict_task
from patron.analytics.store import copy_state, sync_now
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from tests.analytics.test_predictions import TODAY, _history
from tests.conftest import Tenant

# Another process that reads the copy as the pages do, as often as it can, for a while; it
# prints what happened to each read.
READER = """
import json, sys, time
import duckdb
from patron.analytics.copy_lock import CopyBusy
from patron.analytics.store import read_copy
path, seconds = sys.argv[1], float(sys.argv[2])
counts = {"read": 0, "busy": 0, "locked": 0}
until = time.monotonic() + seconds
print("started", flush=True)
while time.monotonic() < until:
    try:
        with read_copy(path) as con:
            con.raw_sql("SELECT count(*) FROM _sync_state").fetchall()
            time.sleep(0.02)  # a page's queries take a moment
        counts["read"] += 1
        time.sleep(0.01)  # the next page view
    except CopyBusy:
        counts["busy"] += 1  # the page says "being updated, try again in a moment"
    except duckdb.IOException:
        counts["locked"] += 1  # DuckDB's own lock error: the processes collided
print(json.dumps(counts), flush=True)
"""

HOLDER = """
import sys, time
from patron.analytics.copy_lock import hold_copy
with hold_copy(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(60)
"""


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() in {"started", "holding"}
    return proc


def test_daily_predictions_run_once_while_another_process_reads_the_copy(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
) -> None:
    clock.set(TODAY)
    _history(sessions, tenant)
    path = str(tmp_path / "a.duckdb")
    daily = settings.model_copy(update={"analytics_path": path, "analytics_predict_daily": True})
    sync_now(engine, path)
    reader = _start(READER, path, "4")
    ran: list[int] = []
    while reader.poll() is None:
        ran.append(predict_task(sessions, daily))  # raised DuckDB's lock error before
        time.sleep(0.05)
    out, _ = reader.communicate(timeout=30)
    counts = json.loads(out.strip().splitlines()[-1])
    assert reader.returncode == 0
    assert counts["locked"] == 0
    assert counts["read"] > 0
    assert sum(ran) == 1  # one run for the day, by whichever turn came first
    assert predict_task(sessions, daily) == 0
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(MemberPrediction)) == 66


def test_a_process_waits_its_turn_and_a_killed_holder_frees_the_copy(
    engine: Engine, tmp_path: Path
) -> None:
    path = str(tmp_path / "b.duckdb")
    sync_now(engine, path)
    holder = _start(HOLDER, path)
    try:
        began = time.monotonic()
        with pytest.raises(CopyBusy), hold_copy(path, wait_seconds=0.3):
            pass
        assert 0.3 <= time.monotonic() - began < 5
        with pytest.raises(CopyBusy):
            copy_state(path)  # a page gives up after a short wait (answered 409 "being updated")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    # The kernel drops a dead process's lock: the copy is usable at once.
    with hold_copy(path, wait_seconds=0):
        assert copy_state(path).synced_at is not None


def test_a_page_does_not_wait_behind_a_longer_wait_of_its_own_process(
    engine: Engine, tmp_path: Path
) -> None:
    """While the worker's sync waits (up to minutes) for another process's turn, a page of the
    same process gives up after its own short wait, not after the sync's."""
    path = str(tmp_path / "c.duckdb")
    sync_now(engine, path)
    holder = _start(HOLDER, path)
    outcomes: list[str] = []

    def long_wait() -> None:
        try:
            with hold_copy(path, wait_seconds=8):
                outcomes.append("sync ran")
        except CopyBusy:
            outcomes.append("sync busy")

    sync = threading.Thread(target=long_wait)
    try:
        sync.start()
        time.sleep(0.3)  # the sync is polling for the file lock now
        began = time.monotonic()
        with pytest.raises(CopyBusy), hold_copy(path, wait_seconds=0.5):
            pass
        assert time.monotonic() - began < 3
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    sync.join(10)
    assert outcomes == ["sync ran"]  # the holder's death gave the waiting sync its turn
