"""Dashboard imports as durable jobs: a worker killed mid-import loses and doubles nothing.

A real ``patron worker`` process imports an orders file in batches of 100 and is killed with
SIGKILL while it works; the next worker claims the job when the lease runs out and goes
on after the checkpoint. At the end the database holds each order once and the job's counts
and refused rows are those of one clean run.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.imports import jobs
from patron.imports.models import ImportFileChunk, ImportJob, ImportReject
from patron.orders.models import Order, OrderLine
from tests.conftest import make_tenant

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 3000
BAD_EVERY = 100  # every 100th order has quantity 0: refused


def orders_file() -> bytes:
    lines = ["order_id,placed_at,member_email,name,quantity,unit_price"]
    for n in range(ORDERS):
        quantity = 0 if n % BAD_EVERY == 7 else 1 + n % 3
        day = 1 + n % 28
        lines.append(
            f"K-{n},2025-05-{day:02d}T10:00:00+08:00,c{n % 400}@example.com,Tea,{quantity},12.50"
        )
    return ("\n".join(lines) + "\n").encode()


def worker_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "PATRON_DATABASE_URL": url,
        "PATRON_SECRET_KEY": "import-crash-test-secret",
        "PATRON_ENV": "test",
        "PATRON_LOG_LEVEL": "WARNING",
        "PATRON_WORKER_POLL_SECONDS": "0.1",
        "PATRON_ANALYTICS_PREDICT_DAILY": "false",
        "PATRON_IMPORT_BATCH_ROWS": "100",
        "PATRON_IMPORT_LEASE_SECONDS": "1",
    }


def job_state(sessions: sessionmaker[Session], job_id: int) -> tuple[str, int]:
    with sessions() as s:
        job = s.get(ImportJob, job_id)
        assert job is not None
        return job.status, job.checkpoint_line


def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Engine]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        engine = make_engine(url)
        upgrade(engine)
        return url, engine
    engine = request.getfixturevalue("pg_only_engine")
    return engine.url.render_as_string(hide_password=False), engine


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_killed_worker_resumes_the_import_from_its_checkpoint(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, engine = database(backend, tmp_path, request)
    sessions = make_session_factory(engine)
    watch = make_session_factory(engine, read_only=True)  # polling takes no write lock
    tenant = make_tenant(sessions, "crashimport")
    with transaction(sessions) as s:
        job_id = jobs.create_job(
            s,
            tenant.merchant_id,
            kind="orders",
            fmt="auto",
            filename="orders.csv",
            upload=io.BytesIO(orders_file()),
            max_bytes=10 << 20,
        ).id
    kills = 0
    deadline = time.monotonic() + 600
    for kill_after in (1200, None):
        proc = subprocess.Popen(
            [sys.executable, "-m", "patron.cli", "worker"],
            env=worker_env(url),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                status, line = job_state(watch, job_id)
                if status == "done" or (kill_after is not None and line >= kill_after):
                    break
                time.sleep(0.02)
            if kill_after is not None and job_state(watch, job_id)[0] != "done":
                proc.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    assert kills == 1, "the import finished before the worker could be killed"

    refused = ORDERS // BAD_EVERY
    with sessions() as s:
        job = s.get(ImportJob, job_id)
        assert job is not None
        assert (job.status, job.attempts) == ("done", 2)
        assert (job.rows_read, job.created, job.unchanged, job.rejected) == (
            ORDERS,
            ORDERS - refused,
            0,
            refused,
        )
        buyers = {n % 400 for n in range(ORDERS) if n % BAD_EVERY != 7}
        assert (job.lines_written, job.members_created) == (ORDERS - refused, len(buyers))
        assert job.bytes_read == job.size_bytes
        lines = s.scalars(
            select(ImportReject.line)
            .where(ImportReject.job_id == job_id)
            .order_by(ImportReject.line)
        ).all()
        assert lines == [n + 2 for n in range(ORDERS) if n % BAD_EVERY == 7]
        assert s.scalar(select(func.count()).select_from(Order)) == ORDERS - refused
        assert s.scalar(select(func.count()).select_from(OrderLine)) == ORDERS - refused
        assert s.scalar(select(func.count()).select_from(ImportFileChunk)) == 0
    if backend == "sqlite":
        engine.dispose()
