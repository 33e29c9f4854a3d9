"""The ``patron`` command as a user runs it: real processes on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory
from patron.tenancy.models import Merchant
from tests.live import live_server


def patron(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": db_url, "PATRON_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert patron(url, "migrate").returncode == 0
    return url


def test_merchant_and_key_from_the_cli_work_on_the_api(db_url: str) -> None:
    r = patron(
        db_url,
        "merchant",
        "create",
        "--name",
        "Tea House",
        "--slug",
        "tea-house",
        "--currency",
        "CNY",
    )
    assert r.returncode == 0, r.stderr
    assert "merchant tea-house created" in r.stdout
    r = patron(db_url, "apikey", "create", "--merchant", "tea-house", "--role", "clerk")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert key.startswith("pk_")
    app = create_app(Settings(database_url=db_url, worker_in_process=False), run_worker=False)
    with live_server(app) as url:
        me = httpx.get(f"{url}/api/v1/merchant", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["currency"]) == ("Tea House", "CNY")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--currency", "XYZ"], "unknown currency 'XYZ'"),
        (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--slug", "Bad Slug"], "slug must be 3-80 lowercase letters, digits or dashes"),
    ],
)
def test_bad_merchant_input_exits_1_with_one_line_and_changes_nothing(
    db_url: str, args: list[str], message: str
) -> None:
    base = {"--name": "Shop", "--slug": "shop"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    r = patron(db_url, "merchant", "create", *[x for kv in base.items() for x in kv])
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {message}"
    engine = make_engine(db_url)
    with make_session_factory(engine, read_only=True)() as s:
        assert s.scalar(select(func.count()).select_from(Merchant)) == 0
    engine.dispose()


def test_duplicate_slug_and_unknown_merchant(db_url: str) -> None:
    assert patron(db_url, "merchant", "create", "--name", "A", "--slug", "shop").returncode == 0
    r = patron(db_url, "merchant", "create", "--name", "B", "--slug", "shop")
    assert (r.returncode, r.stderr.strip()) == (1, "error: a merchant with slug 'shop' exists")
    r = patron(db_url, "apikey", "create", "--merchant", "nope")
    assert (r.returncode, r.stderr.strip()) == (1, "error: no merchant 'nope'")


def _server_processes(pid: int) -> int:
    """How many of ``pid``'s children are uvicorn's spawned server processes (not the
    multiprocessing resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(p) for p in path.read_text().split()] if path.exists() else []
    cmdlines = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
    return sum(b"spawn_main" in line for line in cmdlines)


def test_serve_with_several_worker_processes(db_url: str) -> None:
    from tests.live import free_port

    port = free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": db_url, "PATRON_LOG_JSON": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "patron.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answered = None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered is not None and answered.status_code == 200
        assert answered.json() == {"status": "ok", "database": "sqlite"}
        assert _server_processes(proc.pid) == 2
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_refuses_bad_worker_counts(db_url: str) -> None:
    r = patron(db_url, "serve", "--workers", "0")
    assert r.returncode != 0 and "--workers" in r.stderr
    r = patron(db_url, "serve", "--workers", "2", "--reload")
    assert r.returncode == 1 and "--reload serves one process" in r.stderr
