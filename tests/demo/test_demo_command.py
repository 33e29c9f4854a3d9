"""``patron demo`` end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.cli import app
from patron.core.config import Settings, get_settings
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig, MemberJoined, OrderPlaced, events
from patron.orders.models import Product
from patron.tenancy import service as tenancy
from tests.conftest import START

TABLES = (
    "merchants",
    "stores",
    "products",
    "staff_users",
    "api_keys",
    "members",
    "member_identities",
    "member_tags",
    "member_notes",
    "member_consents",
    "orders",
    "order_lines",
    "refunds",
)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_demo_writes_the_generated_history_then_if_empty_changes_nothing(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = DemoConfig(members=300, seed=42, months=18, now=START)
    login = run_demo(
        sessions, settings, cfg, "demo", if_empty=False, show_progress=False, fast=True
    )
    assert login is not None and login.api_key and login.email == "owner@demo.patron"

    stream = list(events(cfg))
    orders = [e.order for e in stream if isinstance(e, OrderPlaced)]
    joined = [e for e in stream if isinstance(e, MemberJoined)]
    before = counts(engine)
    assert before["merchants"] == 1
    assert before["stores"] == 4
    assert before["products"] == 123
    assert before["members"] == 300
    assert before["orders"] == len(orders)
    assert before["order_lines"] == sum(len(o.lines) for o in orders)
    assert before["refunds"] == sum(len(o.refunds) for o in orders)
    assert before["member_notes"] == sum(len(j.notes) for j in joined)
    assert before["member_consents"] == sum(len(j.member.consents) for j in joined)
    with engine.connect() as conn:
        paid = conn.execute(text("SELECT sum(total_minor), sum(refunded_minor) FROM orders")).one()
        anonymous = conn.execute(
            text("SELECT count(*) FROM orders WHERE member_id IS NULL")
        ).scalar_one()
        sources = Counter(r[0] for r in conn.execute(text("SELECT source FROM member_consents")))
    assert paid == (sum(o.total_minor for o in orders), sum(o.refunded_minor for o in orders))
    assert anonymous == sum(o.member_external_id is None for o in orders)
    assert not any(s.startswith("import") for s in sources)
    with sessions() as s:
        upcoming = s.execute(
            select(Product.sku, Product.release_at)
            .where(Product.release_at.is_not(None))
            .order_by(Product.sku)
        ).all()
    assert [tuple(row) for row in upcoming] == [
        ("BHYZ-GIFT", START + timedelta(days=30)),
        ("MQLJ-100G", START + timedelta(days=12)),
    ]

    # The owner can log in with the printed password; the key is a manager key.
    with sessions() as s:
        user = tenancy.authenticate_staff(s, "owner@demo.patron", "patron-demo")
        assert user.role == "owner"
        assert tenancy.principal_for_key(s, login.api_key).role.value == "manager"
        s.rollback()

    # `make run` calls `patron demo --if-empty` on every start: nothing changes.
    monkeypatch.setenv("PATRON_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "--if-empty", "--members", "50"])
        assert result.exit_code == 0, result.output
        assert "owner@demo.patron / patron-demo" in result.output
        assert "/login" in result.output
        assert counts(engine) == before
        again = CliRunner().invoke(app, ["demo", "--members", "50"])
        assert again.exit_code == 1
        assert counts(engine) == before
    finally:
        get_settings.cache_clear()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(text("members"))) == 300


def test_the_first_start_shows_the_total_and_the_time_left(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "PATRON_ANALYTICS_PATH": str(tmp_path / "analytics.duckdb"),
        "PATRON_LOG_JSON": "false",
        "COLUMNS": "160",
    }

    def patron(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "patron.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )

    patron("migrate")
    out = patron("demo", "--members", "30", "--months", "2").stdout
    # Rich prints the bar's last state when the output is not a terminal.
    bar = out.splitlines()[0].replace("━", "")
    shown = re.fullmatch(
        r"demo history +(\d+)/(\d+) members and orders · \d+:\d\d:\d\d elapsed · "
        r"(\d+:\d\d:\d\d) left",
        bar.strip(),
    )
    assert shown is not None, bar
    done, total, left = shown.groups()
    assert (int(done), left) == (int(total), "0:00:00")
    assert "demo history through the programs: 30 members" in out
