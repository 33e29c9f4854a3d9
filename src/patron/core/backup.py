"""Back up a live database and restore a backup into an empty one (``patron backup`` and
``patron restore``; docs/operations.md).

- **SQLite**: SQLite's online backup API copies the database in one step inside one read
  transaction: a consistent snapshot taken while the server keeps writing (WAL readers do not
  block writers). The backup is itself a SQLite database file.
- **PostgreSQL**: ``pg_dump --format=custom`` (one repeatable-read snapshot) and
  ``pg_restore``; the PostgreSQL client programs must be on ``PATH`` and as new as the server.

A restore only goes into an empty database (a new SQLite file, or a PostgreSQL database with no
tables), so it can never mix a backup with live data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from patron.core.db import display_url, make_engine
from patron.core.errors import PatronError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class BackupFailed(PatronError):
    code = "backup_failed"


@dataclass(frozen=True)
class BackupDone:
    path: Path
    kind: str  # "sqlite" or "postgresql"
    size_bytes: int


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _pg_command(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise BackupFailed(
            f"{program} is not installed: install the PostgreSQL client programs "
            "(Debian: apt-get install postgresql-client) as new as the server"
        )
    return found


def _pg_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it (a
    password on a command line is visible to every user of the machine)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise BackupFailed(f"{what} failed: {reason}")


def backup(database_url: str, out: Path) -> BackupDone:
    """Write a consistent backup of the database at ``database_url`` to ``out`` (a new file)."""
    if out.exists():
        raise BackupFailed(f"{out} already exists: choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    url = make_url(database_url)
    backend = url.get_backend_name()
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if backend == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupFailed(f"the database {source_path} does not exist")
            source = sqlite3.connect(source_path, timeout=30)
            try:
                target = sqlite3.connect(partial)
                try:
                    source.backup(target)  # all pages in one step: one snapshot
                finally:
                    target.close()
            finally:
                source.close()
        elif backend == "postgresql":
            dsn, env = _pg_target(url)
            cmd = [_pg_command("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
            _run([*cmd, f"--file={partial}", f"--dbname={dsn}"], env, "pg_dump")
        else:
            raise BackupFailed(f"cannot back up a {backend} database")
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(out, backend, out.stat().st_size)


def backup_kind(path: Path) -> str:
    """``"sqlite"`` or ``"postgresql"``: what :func:`backup` wrote to ``path``."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupFailed(f"cannot read the backup {path}: {exc.strerror or exc}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise BackupFailed(f"{path} is not a Patron backup (neither SQLite nor pg_dump custom format)")


def _require_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupFailed(
            f"the database {display_url(database_url)} is not empty ({len(tables)} tables): "
            "restore into a new, empty database"
        )


def restore(backup_path: Path, database_url: str) -> str:
    """Restore ``backup_path`` into the empty database at ``database_url``; returns the kind."""
    kind = backup_kind(backup_path)
    url = make_url(database_url)
    backend = url.get_backend_name()
    if kind != backend:
        raise BackupFailed(
            f"{backup_path} is a {kind} backup; the database {display_url(database_url)} "
            f"is {backend}"
        )
    if backend == "sqlite":
        target_path = _sqlite_path(url)
        if target_path.exists() and target_path.stat().st_size > 0:
            raise BackupFailed(f"{target_path} already exists: restore into a new file")
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(backup_path)
        try:
            target = sqlite3.connect(target_path)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        return kind
    _require_empty(database_url)
    dsn, env = _pg_target(url)
    cmd = [_pg_command("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    _run([*cmd, "--single-transaction", f"--dbname={dsn}", str(backup_path)], env, "pg_restore")
    return kind
