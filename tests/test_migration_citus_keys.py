"""Migration 0023_citus_keys on a database with data in it (ADR 0060), SQLite and PostgreSQL.

A database at the revision before it gets two merchants' demo history through the programs
(checkouts, refunds, ledger, lots, messages…); upgrading re-keys every table with every row in
place, ``patron verify`` finds the ledger clean, and new rows get new ids. A row that points at
another merchant's row stops the upgrade, and nothing changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

import patron.models
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import alembic_config, current_heads, upgrade
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig
from patron.members.models import Member
from tests.conftest import PG_ADMIN_URL, START, need_service, pg_available
from tests.test_schema_distribution import from_database, problems

AFTER = "0023_citus_keys"
# The revision before it (whatever the chain becomes when branches are merged).
BEFORE = str(ScriptDirectory.from_config(alembic_config()).get_revision(AFTER).down_revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keys.db'}"
        return
    need_service(pg_available())
    name = f"patron_keys_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def old_engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    upgrade(engine, BEFORE)
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table the database has (tables added by later migrations are not
    there yet before the upgrade), in a fixed order."""
    rows = {}
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in patron.models.Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            order = ", ".join(c.name for c in table.c)
            found = conn.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}")).all()
            rows[table.name] = [tuple(r) for r in found]
    return rows


def fill(engine: Engine, tmp_path: Path) -> None:
    """Two merchants' history, written by the code of today on the schema before 0019."""
    sessions = make_session_factory(engine, FrozenClock(START))
    settings = Settings(
        env="test",
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="test-secret-key-0123456789",
        worker_in_process=False,
        log_json=False,
        analytics_path=str(tmp_path / "analytics.duckdb"),
    )
    for slug, seed in (("tea", 5), ("cafe", 6)):
        cfg = DemoConfig(members=25, seed=seed, months=2, now=START)
        run_demo(sessions, settings, cfg, slug, if_empty=False, show_progress=False)


def patron_verify(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_upgrade_with_data_in_place_keeps_every_row(old_engine: Engine, tmp_path: Path) -> None:
    fill(old_engine, tmp_path)
    before = snapshot(old_engine)
    triggers = trigger_names(old_engine)
    assert len(before["merchants"]) == 2
    assert len(before["members"]) == 50
    assert before["orders"] and before["ledger_postings"] and before["points_lots"]

    done = upgrade(old_engine)

    # The heads now descend from 0023 (later revisions ran after it).
    assert done.before == (BEFORE,)
    assert set(done.after) == set(ScriptDirectory.from_config(alembic_config()).get_heads())
    after = snapshot(old_engine)
    assert {name: after[name] for name in before} == before
    # Tables created after 0023 (already scoped) are there, empty.
    assert all(after[name] == [] for name in after.keys() - before.keys())
    # The rebuild of SQLite tables keeps their triggers (the set-up version's, ADR 0900).
    assert trigger_names(old_engine) == triggers
    url = old_engine.url.render_as_string(hide_password=False)
    checked = patron_verify(url)
    assert checked.returncode == 0, checked.stderr
    assert "no drift" in checked.stdout
    if old_engine.dialect.name == "postgresql":
        assert problems(from_database(old_engine)) == []
        assert inspect(old_engine).get_pk_constraint("members")["constrained_columns"] == [
            "id",
            "merchant_id",
        ]
    else:
        with old_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []

    # New rows keep getting new ids, after the largest old one.
    top = max(r[0] for r in before["members"])
    merchant_id = before["merchants"][0][0]
    with transaction(make_session_factory(old_engine, FrozenClock(START))) as session:
        member = Member(
            merchant_id=merchant_id,
            funnel_stage="prospect",
            preferences={},
            created_at=START,
            updated_at=START,
        )
        session.add(member)
        session.flush()
        assert member.id > top
        assert session.get(Member, member.id) is member


def test_a_row_pointing_at_another_merchants_row_stops_the_upgrade(
    old_engine: Engine, tmp_path: Path
) -> None:
    fill(old_engine, tmp_path)
    with old_engine.begin() as conn:
        tea, cafe = (
            conn.execute(text("SELECT id FROM merchants WHERE slug = :s"), {"s": s}).scalar_one()
            for s in ("tea", "cafe")
        )
        cafe_member = conn.execute(
            text("SELECT min(id) FROM members WHERE merchant_id = :m"), {"m": cafe}
        ).scalar_one()
        conn.execute(
            text(
                "UPDATE member_tags SET member_id = :x WHERE id = "
                "(SELECT min(id) FROM member_tags WHERE merchant_id = :m)"
            ),
            {"x": cafe_member, "m": tea},
        )
    before = snapshot(old_engine)
    schema = schema_text(old_engine)

    with pytest.raises(Exception, match=r"(?i)foreign key|another merchant|violates"):
        upgrade(old_engine)

    assert current_heads(old_engine) == {BEFORE}
    after = snapshot(old_engine)
    assert {name: after[name] for name in before} == before
    # Tables created after 0023 (already scoped) are there, empty.
    assert all(after[name] == [] for name in after.keys() - before.keys())
    assert schema_text(old_engine) == schema


def trigger_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        else:
            sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
        names = list(conn.execute(text(sql)).scalars())
    assert names, "the set-up version triggers of 0020_checkout are there before"
    return names


def schema_text(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name, sql FROM sqlite_master ORDER BY name"
        else:
            sql = (
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
            )
        return [tuple(r) for r in conn.execute(text(sql))]
