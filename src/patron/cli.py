"""The ``patron`` command line."""

from __future__ import annotations

import contextlib
import sys

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.cli import app as analytics_app
from patron.analytics.report import report as report_command
from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.errors import PatronError
from patron.core.logging import configure_logging
from patron.core.migrate import upgrade
from patron.demo import cli as demo_cli
from patron.imports.cli import export_app, import_app
from patron.ledger import cli as ledger_cli
from patron.programs import cli as programs_cli
from patron.tenancy import service as tenancy
from patron.worker import drain, run_forever

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Patron: loyalty and retention.")
merchant_app = typer.Typer(no_args_is_help=True, help="Merchants.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys.")
staff_app = typer.Typer(no_args_is_help=True, help="Dashboard users.")
app.add_typer(merchant_app, name="merchant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(staff_app, name="staff")
app.add_typer(analytics_app, name="analytics")
app.add_typer(programs_cli.app, name="programs")
ledger_cli.register(app)
app.command("demo")(demo_cli.demo)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.command("report")(report_command)
console = Console()
err = Console(stderr=True)


def fail(message: str) -> None:
    """Exit non-zero with one readable line."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def sessions_for_cli() -> sessionmaker[Session]:
    """Sessions on the configured database (commands commit at their end)."""
    settings = get_settings()
    return make_session_factory(make_engine(settings.database_url))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    upgrade(make_engine(settings.database_url))
    console.print(f"database is up to date ({settings.database_url.split('@')[-1]})")


@app.command()
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
) -> None:
    """Serve the API, the dashboard, the portal and the in-process worker."""
    settings = get_settings()
    if reload and workers > 1:
        fail("--reload serves one process: drop --workers")
    uvicorn.run(
        "patron.app:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        workers=workers,
        log_level=settings.log_level.lower(),
    )


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="work until nothing is due, then exit"),
) -> None:
    """Run the background worker as its own process (webhooks, messages, schedules)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if once:
        done = drain(sessions_for_cli(), settings, max_rounds=1_000_000)
        console.print(f"worker: {done} items handled")
        return
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(sessions_for_cli(), settings)


@merchant_app.command("create")
def merchant_create(
    name: str = typer.Option(..., help="shop name"),
    slug: str = typer.Option(..., help="short unique id, e.g. 'tea-house'"),
    currency: str = typer.Option("CNY", help="ISO 4217 code"),
    timezone: str = typer.Option("Asia/Shanghai", help="IANA time zone"),
    locale: str = typer.Option("zh_Hans_CN", help="default locale"),
    owner_email: str | None = typer.Option(None, help="create an owner login with this email"),
    owner_password: str | None = typer.Option(None, help="password for the owner login"),
) -> None:
    """Create a merchant (and optionally its owner login)."""
    try:
        with transaction(sessions_for_cli()) as session:
            merchant = tenancy.create_merchant(session, name, slug, currency, timezone, locale)
            if owner_email:
                if not owner_password:
                    fail("--owner-password is required with --owner-email")
                tenancy.create_staff_user(
                    session, merchant.id, owner_email, "Owner", "owner", owner_password or ""
                )
    except PatronError as exc:
        fail(exc.message)
    console.print(f"merchant {merchant.slug} created (id {merchant.id})")


@apikey_app.command("create")
def apikey_create(
    merchant: str = typer.Option(..., help="merchant slug"),
    name: str = typer.Option("cli", help="a label for the key"),
    role: str = typer.Option("manager", help="owner, manager or clerk"),
) -> None:
    """Create an API key; it is printed once."""
    try:
        with transaction(sessions_for_cli()) as session:
            m = tenancy.find_merchant(session, merchant)
            _key, raw = tenancy.create_api_key(session, m.id, name, role)
    except PatronError as exc:
        fail(exc.message)
    console.print(raw, soft_wrap=True)


@staff_app.command("create")
def staff_create(
    merchant: str = typer.Option(..., help="merchant slug"),
    email: str = typer.Option(...),
    password: str = typer.Option(..., prompt=True, hide_input=True),
    name: str = typer.Option("Staff"),
    role: str = typer.Option("clerk", help="owner, manager or clerk"),
) -> None:
    """Create a dashboard login."""
    try:
        with transaction(sessions_for_cli()) as session:
            m = tenancy.find_merchant(session, merchant)
            tenancy.create_staff_user(session, m.id, email, name, role, password)
    except PatronError as exc:
        fail(exc.message)
    console.print(f"staff user {email} created")


def main() -> None:
    try:
        app()
    except PatronError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)


if __name__ == "__main__":
    main()
