"""Backup and restore drill (docs/operations.md): back up a live database while tills keep
checking out, restore it into a new database, and find the ledger clean and every purchase that
was acknowledged before the backup started — on SQLite and on PostgreSQL, through the
``patron backup``, ``patron restore`` and ``patron verify`` commands an operator runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, inspect, select, text

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import pending_revisions, upgrade
from patron.ledger.models import JournalEntry
from patron.orders.models import Order
from tests.conftest import PG_ADMIN_URL, START, make_tenant, need_service, pg_available
from tests.programs.helpers import new_member, typical_program

LINE = [{"name": "Tea", "quantity": 1, "unit_price_minor": 2000}]
TILLS = 4


def patron(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": db_url, "PATRON_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def new_pg_database() -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases; drops them after the test."""
    need_service(pg_available())
    made: list[str] = []

    def make() -> str:
        name = f"patron_drill_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> tuple[str, str]:
    """The live database's URL and the (not yet existing or empty) restore target's."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
    return new_pg_database(), new_pg_database()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_backup_during_checkouts_restores_every_acknowledged_purchase(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    live_url, restored_url = two_databases
    engine = make_engine(live_url)
    upgrade(engine)
    sessions = make_session_factory(engine, FrozenClock(START))
    merchant = make_tenant(sessions, "alpha").merchant_id
    typical_program(sessions, merchant)
    members = [new_member(sessions, merchant, f"+86138000000{i:02d}") for i in range(TILLS)]

    acknowledged: list[int] = []  # order ids whose commit returned (list.append is atomic)
    failures: list[BaseException] = []
    stop = threading.Event()

    def till(i: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                request = CommitRequest(member_id=members[i], lines=LINE)
                with transaction(sessions) as s:
                    sold = checkout.commit(s, merchant, request, f"till{i}-{n}", "clerk")
                acknowledged.append(sold.order_id)
                n += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=till, args=(i,)) for i in range(TILLS)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acknowledged) >= 3 * TILLS or bool(failures), "first purchases")
        before_backup = set(acknowledged)
        backup_file = tmp_path / "backups" / "patron.backup"
        made = patron(live_url, "backup", str(backup_file))
        after_backup = len(acknowledged)
        # the tills go on after the backup: what they sell now is not in it
        wait_for(lambda: len(acknowledged) >= after_backup + TILLS or bool(failures), "more")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"backed up {live_url.split(':')[0]}")
    all_acknowledged = set(acknowledged)
    assert len(all_acknowledged) == len(acknowledged)  # no order id twice

    restored = patron(restored_url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    assert "next: `patron migrate`, then `patron verify`" in restored.stdout

    verified = patron(restored_url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.rstrip().endswith("no drift")

    restored_engine = make_engine(restored_url)
    try:
        assert pending_revisions(restored_engine) == 0
        with restored_engine.connect() as conn:
            in_backup = set(conn.scalars(select(Order.id).where(Order.merchant_id == merchant)))
            entries = conn.scalar(select(func.count()).select_from(JournalEntry))
    finally:
        restored_engine.dispose()
    # every purchase acknowledged before the backup began is there; nothing that was never
    # acknowledged is; and the purchases sold after the backup are not (it is a snapshot)
    assert before_backup <= in_backup <= all_acknowledged
    assert len(all_acknowledged - in_backup) >= TILLS
    assert entries is not None and entries >= len(in_backup)
    # the live database went on, untouched by the drill
    with engine.connect() as conn:
        live_orders = set(conn.scalars(select(Order.id).where(Order.merchant_id == merchant)))
    assert live_orders == all_acknowledged
    engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    live_url, other_url = two_databases
    for url, row in ((live_url, "from the backup"), (other_url, "already here")):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (note VARCHAR(40))"))
            conn.execute(text("INSERT INTO kept VALUES (:note)"), {"note": row})
        engine.dispose()
    backup_file = tmp_path / "b.backup"
    assert patron(live_url, "backup", str(backup_file)).returncode == 0

    refused = patron(other_url, "restore", str(backup_file))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "restore into a new" in refused.stderr
    engine = make_engine(other_url)
    with engine.connect() as conn:  # nothing changed in the target
        assert conn.scalars(text("SELECT note FROM kept")).all() == ["already here"]
    engine.dispose()

    again = patron(live_url, "backup", str(backup_file))
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_restore_refuses_a_file_that_is_no_backup(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    target = tmp_path / "restored.db"
    refused = patron(f"sqlite:///{target}", "restore", str(junk))
    assert refused.returncode == 1
    assert "is not a Patron backup" in refused.stderr
    assert not target.exists()


def test_restore_refuses_a_backup_of_the_other_kind(
    tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'small.db'}"
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (note VARCHAR(40))"))
    engine.dispose()
    backup_file = tmp_path / "small.backup"
    assert patron(sqlite_url, "backup", str(backup_file)).returncode == 0
    target = new_pg_database()
    refused = patron(target, "restore", str(backup_file))
    assert refused.returncode == 1
    assert "is a sqlite backup; the database" in refused.stderr
    assert "is postgresql" in refused.stderr
    engine = make_engine(target)
    with engine.connect() as conn:  # still empty
        assert inspect(conn).get_table_names() == []
    engine.dispose()
