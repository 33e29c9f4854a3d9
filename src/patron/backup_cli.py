"""``patron backup`` and ``patron restore`` (docs/operations.md, ``patron.core.backup``).

Kept apart from ``patron.server_cli``, which loads the server and the worker: a backup taken
from cron should start fast."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from patron.core import backup as backups
from patron.core.config import get_settings
from patron.core.db import display_url

console = Console()


def backup(
    file: Path = typer.Argument(..., help="the backup file to write (must not exist yet)"),
) -> None:
    """Back up the database to a file while Patron keeps running (SQLite: a copy; PostgreSQL:
    pg_dump's custom format)."""
    url = get_settings().database_url
    done = backups.backup(url, file)
    console.print(
        f"backed up {display_url(url)} to {done.path} ({done.kind}, {done.size_bytes:,} bytes)",
        highlight=False,
        soft_wrap=True,
    )


def restore(
    file: Path = typer.Argument(..., help="a file written by `patron backup`"),
) -> None:
    """Restore a backup into the database of PATRON_DATABASE_URL, which must be empty."""
    url = get_settings().database_url
    kind = backups.restore(file, url)
    console.print(
        f"restored {file} ({kind}) into {display_url(url)}; next: `patron migrate`, then "
        "`patron verify`",
        highlight=False,
        soft_wrap=True,
    )
