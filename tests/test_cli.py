"""The ``patron`` command as a user runs it: real processes on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
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
