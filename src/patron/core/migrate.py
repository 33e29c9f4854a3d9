"""Run Alembic migrations programmatically (``patron migrate``, tests, ``make run``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did: the schema revisions before and after, and how many
    migrations ran in between (0: the database was up to date)."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: int

    @property
    def created(self) -> bool:
        """The database had no schema: every migration ran."""
        return not self.before and self.applied > 0


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> Upgrade:
    """Bring the database to the newest schema (every branch head); say what was done."""
    cfg = alembic_config()
    with engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
        before = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        _check_sqlite_keys(conn)
    script = ScriptDirectory.from_config(cfg)
    # The revisions the new heads descend from that the old heads did not: the ones that ran.
    applied = sum(1 for _ in script.iterate_revisions(after, before or "base")) if after else 0
    return Upgrade(before, after, applied)


def _check_sqlite_keys(conn: Connection) -> None:
    """SQLite: every foreign key holds, else raise (which rolls the whole run back)."""
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:20]}")


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (tests of data migrations), foreign keys handled
    as in :func:`upgrade`."""
    cfg = alembic_config()
    with engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        _check_sqlite_keys(conn)


@contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite: foreign keys off while migrations run, so a migration may rebuild a table (drop
    and rename) without its drop cascading into the tables that refer to it. The pragma only
    takes effect outside a transaction, hence before BEGIN; every key is checked before COMMIT
    (above) and enforcement comes back on for the connection's next user."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def current_heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def pending_revisions(engine: Engine) -> int:
    """How many migrations the database still lacks (all of them on a new database)."""
    script = ScriptDirectory.from_config(alembic_config())
    current = tuple(current_heads(engine))
    return sum(1 for _ in script.iterate_revisions("heads", current or "base"))
