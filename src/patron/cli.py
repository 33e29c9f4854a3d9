"""The ``patron`` command line.

Each command lives with its domain and is imported only when it runs (ADR 0010): the list below
names it and gives the line ``patron --help`` shows for it.
"""

from __future__ import annotations

from importlib.metadata import version

import typer

from patron.core.commands import LazyCommand, lazy_group

COMMANDS = (
    LazyCommand(
        "analytics",
        "patron.analytics.cli:app",
        "Analytics: the analytics copy and the metrics.",
    ),
    LazyCommand("apikey", "patron.tenancy.cli:apikey_app", "API keys."),
    LazyCommand(
        "backup",
        "patron.backup_cli:backup",
        "Back up the database to a file while Patron keeps running (SQLite: a copy; "
        "PostgreSQL: pg_dump's custom format).",
    ),
    LazyCommand(
        "demo",
        "patron.demo.cli:demo",
        "Create the demo merchant with stores, catalogue, members and 18 months of orders, "
        "run through its loyalty programs (points, tiers, top-ups, coupons, points mall).",
    ),
    LazyCommand(
        "expire",
        "patron.ledger.cli:expire_command",
        "Release pending points whose window has ended, expire due lots, announce expiring ones.",
    ),
    LazyCommand("export", "patron.imports.cli:export_app", "Export members or orders as CSV."),
    LazyCommand("import", "patron.imports.cli:import_app", "Import customers or orders from CSV."),
    LazyCommand(
        "member",
        "patron.privacy.cli:member_app",
        "A member's personal data: export or erase.",
    ),
    LazyCommand("merchant", "patron.tenancy.cli:merchant_app", "Merchants."),
    LazyCommand("migrate", "patron.server_cli:migrate", "Create or upgrade the database schema."),
    LazyCommand("programs", "patron.programs.cli:app", "Loyalty programs."),
    LazyCommand(
        "report",
        "patron.analytics.report:report",
        "Write a self-contained HTML report of the analytics figures.",
    ),
    LazyCommand(
        "restore",
        "patron.backup_cli:restore",
        "Restore a backup into the database of PATRON_DATABASE_URL, which must be empty.",
    ),
    LazyCommand(
        "serve",
        "patron.server_cli:serve",
        "Serve the API, the dashboard, the portal and the in-process worker.",
    ),
    LazyCommand("staff", "patron.tenancy.cli:staff_app", "Dashboard users."),
    LazyCommand(
        "verify",
        "patron.ledger.cli:verify_command",
        "Recompute every balance and lot from the postings; exit 1 on any drift.",
    ),
    LazyCommand(
        "worker",
        "patron.server_cli:worker",
        "Run the background worker as its own process (webhooks, messages, schedules).",
    ),
)

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    no_args_is_help=True,
    add_completion=False,
    help="Patron: loyalty and retention.",
)


def print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"patron {version('patron')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: bool = typer.Option(
        False,
        "--version",
        help="Print Patron's version and exit.",
        is_eager=True,
        callback=print_version,
    ),
) -> None:
    """Patron: loyalty and retention."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
