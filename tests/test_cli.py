"""The ``patron`` command as a user runs it: real processes on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from typer.testing import CliRunner

from patron.app import create_app
from patron.core.config import Settings, get_settings
from patron.core.db import make_engine, make_session_factory
from patron.core.migrate import alembic_config
from patron.tenancy.models import Merchant
from tests.live import live_server


def patron(
    db_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": db_url, "PATRON_LOG_JSON": "false", **(env or {})}
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


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = ", ".join(sorted(script.get_heads()))
    count = sum(1 for _ in script.walk_revisions())
    url = f"sqlite:///{tmp_path / 'new.db'}"
    first = patron(url, "migrate")
    assert (first.returncode, first.stdout, first.stderr) == (
        0,
        f"created the database schema at revision {heads} ({count} migrations applied) in {url}\n",
        "",
    )
    again = patron(url, "migrate")
    assert (again.returncode, again.stdout) == (
        0,
        f"database is up to date at revision {heads} ({url})\n",
    )


def refused_postgres() -> str:
    from tests.live import free_port

    return f"postgresql://patron:secret@127.0.0.1:{free_port()}/patron"


# Each command that touches the database, against a database that cannot be used: a
# PostgreSQL server that refuses the connection, a SQLite path that is a folder, a SQLite
# path under a file (its folder cannot be created).
UNREACHABLE = [
    (["migrate"], "postgres"),
    (["merchant", "create", "--name", "A", "--slug", "shop"], "sqlite-folder"),
    (["apikey", "create", "--merchant", "shop"], "postgres"),
    (["verify"], "sqlite-under-file"),
    (["demo", "--members", "5", "--months", "1"], "postgres"),
    (["import", "customers", "CUSTOMERS", "--merchant", "shop"], "sqlite-folder"),
    (["export", "orders", "--merchant", "shop", "--out", "OUT"], "postgres"),
    (["analytics", "sync"], "sqlite-folder"),
    (["serve", "--port", "1"], "postgres"),
    (["worker", "--once"], "sqlite-under-file"),
]


@pytest.mark.parametrize(("args", "database"), UNREACHABLE, ids=lambda v: str(v))
def test_a_database_that_cannot_be_used_is_one_line_and_exit_1(
    tmp_path: Path, args: list[str], database: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "customers.csv").write_text("Email\na@example.com\n")
    url, expected = {
        "postgres": (pg := refused_postgres(), "cannot connect to the database "),
        "sqlite-folder": (f"sqlite:///{tmp_path}", "cannot connect to the database "),
        "sqlite-under-file": (
            f"sqlite:///{tmp_path / 'a-file' / 'patron.db'}",
            f"cannot create the database folder {tmp_path / 'a-file'}: a file is in the way",
        ),
    }[database]
    shown = pg.replace(":secret@", ":***@") if database == "postgres" else url
    args = [
        str(tmp_path / "customers.csv")
        if a == "CUSTOMERS"
        else a.replace("OUT", str(tmp_path / "orders.csv"))
        for a in args
    ]
    env = {"PATRON_ANALYTICS_PATH": str(tmp_path / "analytics.duckdb")}
    r = patron(url, *args, env=env)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    if database == "sqlite-under-file":
        assert line == f"error: {expected}"
    else:
        assert line.startswith(f"error: {expected}{shown}: "), line
    assert "Traceback" not in r.stdout + r.stderr


def test_serve_refuses_a_database_without_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = patron(url, "serve", "--port", "1")
    assert (r.returncode, r.stderr.strip()) == (
        1,
        f"error: the database {url} has no schema yet: run `patron migrate`",
    )


def test_serve_passes_the_health_check_timeout_to_uvicorn(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from patron.cli import app

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("PATRON_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["serve", "--workers", "2"]).exit_code == 0
        custom = ["serve", "--workers", "2", "--healthcheck-timeout", "45"]
        assert runner.invoke(app, custom).exit_code == 0
        monkeypatch.setenv("PATRON_SERVE_HEALTHCHECK_SECONDS", "12")
        get_settings.cache_clear()
        assert runner.invoke(app, ["serve", "--workers", "2"]).exit_code == 0
    finally:
        get_settings.cache_clear()
    assert [(c["workers"], c["timeout_worker_healthcheck"]) for c in calls] == [
        (2, 30),
        (2, 45),
        (2, 12),
    ]
