"""``patron migrate``, ``patron serve`` and ``patron worker``: running Patron."""

from __future__ import annotations

import contextlib

import typer
import uvicorn
from rich.console import Console
from sqlalchemy import Engine

from patron.core.commands import fail
from patron.core.config import get_settings
from patron.core.db import check_database, display_url, make_engine, make_session_factory
from patron.core.logging import configure_logging, uvicorn_log_config
from patron.core.migrate import Upgrade, current_heads, pending_revisions, upgrade
from patron.worker import drain, run_forever

console = Console()
err = Console(stderr=True)


def migrated(up: Upgrade, where: str) -> str:
    """What ``patron migrate`` did, in one line."""
    revision = ", ".join(up.after) or "(none)"
    count = f"{up.applied} migration{'' if up.applied == 1 else 's'} applied"
    if up.applied == 0:
        return f"database is up to date at revision {revision} ({where})"
    if up.created:
        return f"created the database schema at revision {revision} ({count}) in {where}"
    return (
        f"upgraded the database schema from revision {', '.join(up.before)} to {revision} "
        f"({count}) in {where}"
    )


def migrate() -> None:
    """Create or upgrade the database schema."""
    url = get_settings().database_url
    console.print(
        migrated(upgrade(make_engine(url)), display_url(url)), highlight=False, soft_wrap=True
    )


def ready(engine: Engine, url: str) -> None:
    """Refuse to start on a database that does not answer, or whose schema is missing or
    behind the code (pages would fail one by one): one line saying what to do instead."""
    check_database(engine, url)
    missing = pending_revisions(engine)
    if not missing:
        return
    where = display_url(url)
    if not current_heads(engine):
        fail(f"the database {where} has no schema yet: run `patron migrate`")
    fail(f"the database {where} lacks {missing} migration(s): run `patron migrate`")


def serve(
    host: str | None = typer.Option(None, help="bind address (default PATRON_HOST)"),
    port: int | None = typer.Option(None, help="port (default PATRON_PORT)"),
    reload: bool = typer.Option(False, help="reload on code changes (development)"),
    workers: int = typer.Option(
        1,
        min=1,
        max=64,
        help="server processes (several tills at once: one per core is a good start)",
    ),
    healthcheck_timeout: int | None = typer.Option(
        None,
        min=1,
        help="seconds a server process may take to answer its supervisor's health check "
        "before it is restarted, with --workers (default PATRON_SERVE_HEALTHCHECK_SECONDS)",
    ),
) -> None:
    """Serve the API, the dashboard, the portal and the in-process worker."""
    settings = get_settings()
    if reload and workers > 1:
        fail("--reload serves one process: drop --workers")
    engine = make_engine(settings.database_url)
    ready(engine, settings.database_url)
    engine.dispose()  # the server processes make their own
    uvicorn.run(
        "patron.app:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(settings.log_level, settings.log_json),
        timeout_worker_healthcheck=healthcheck_timeout or settings.serve_healthcheck_seconds,
    )


def worker(
    once: bool = typer.Option(False, "--once", help="work until nothing is due, then exit"),
) -> None:
    """Run the background worker as its own process (webhooks, messages, schedules)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url)
    ready(engine, settings.database_url)
    sessions = make_session_factory(engine)
    if once:
        done = drain(sessions, settings, max_rounds=1_000_000)
        console.print(f"worker: {done} items handled")
        return
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(sessions, settings)
