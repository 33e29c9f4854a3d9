"""``patron import …`` and ``patron export …``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.errors import PatronError
from patron.imports.export import members_csv, orders_csv
from patron.imports.rows import ImportResult
from patron.imports.runner import Format, FormatChoice, Kind, run_import
from patron.tenancy import service as tenancy

import_app = typer.Typer(no_args_is_help=True, help="Import customers or orders from CSV.")
export_app = typer.Typer(no_args_is_help=True, help="Export members or orders as CSV.")
console = Console()
err = Console(stderr=True)

FORMAT_HELP = (
    "shopify (Shopify's export), generic (docs/import-formats.md) or auto (told by the header)"
)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _import(kind: Kind, file: Path, merchant: str, fmt: str, rejects: Path | None) -> None:
    if fmt not in ("shopify", "generic", "auto"):
        _fail(f"--format must be shopify, generic or auto, not {fmt!r}")
    report = rejects or file.with_name(f"{file.stem}.rejects.csv")
    try:
        binary = file.open("rb")
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
        return
    size = file.stat().st_size
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with (
            binary,
            report.open("w", newline="", encoding="utf-8") as out,
            Progress(*columns, console=err, transient=True) as progress,
            transaction(_sessions()) as session,
        ):
            task = progress.add_task(f"{kind} {file.name}", total=size)
            merchant_id = tenancy.find_merchant(session, merchant).id
            result = run_import(
                session,
                merchant_id,
                kind,
                binary,
                fmt=fmt,  # type: ignore[arg-type]
                rejects=out,
                commit_each_batch=True,
                progress=lambda done: progress.update(task, completed=done),
            )
    except PatronError as exc:
        report.unlink(missing_ok=True)
        _fail(exc.message)
        return
    _summary(result, report)


def _summary(result: ImportResult, report: Path) -> None:
    counts = result.counts()
    console.print(
        f"{result.kind}: read {counts['read']}, created {counts['created']}, "
        f"updated {counts['updated']}, unchanged {counts['unchanged']}, "
        f"rejected {counts['rejected']}" + (f" (report: {report})" if result.rejected else "")
    )
    if not result.rejected:
        report.unlink(missing_ok=True)


@import_app.command("customers")
def import_customers(
    file: Path = typer.Argument(..., help="the CSV file"),
    merchant: str = typer.Option(..., help="merchant slug"),
    fmt: str = typer.Option("shopify", "--format", help=FORMAT_HELP),
    rejects: Path | None = typer.Option(None, help="rejects report (default: FILE.rejects.csv)"),
) -> None:
    """Import customers (members)."""
    _import("customers", file, merchant, fmt, rejects)


@import_app.command("orders")
def import_orders(
    file: Path = typer.Argument(..., help="the CSV file"),
    merchant: str = typer.Option(..., help="merchant slug"),
    fmt: str = typer.Option("shopify", "--format", help=FORMAT_HELP),
    rejects: Path | None = typer.Option(None, help="rejects report (default: FILE.rejects.csv)"),
) -> None:
    """Import orders (one row per order line)."""
    _import("orders", file, merchant, fmt, rejects)


def _export(which: str, merchant: str, out: Path) -> None:
    try:
        with transaction(_sessions()) as session, out.open("w", newline="", encoding="utf-8") as f:
            merchant_id = tenancy.find_merchant(session, merchant).id
            chunks = members_csv if which == "members" else orders_csv
            for chunk in chunks(session, merchant_id):
                f.write(chunk)
    except PatronError as exc:
        out.unlink(missing_ok=True)
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"{which} exported to {out}")


@export_app.command("members")
def export_members(
    merchant: str = typer.Option(..., help="merchant slug"),
    out: Path = typer.Option(..., help="the CSV file to write"),
) -> None:
    """Export members in the generic format."""
    _export("members", merchant, out)


@export_app.command("orders")
def export_orders(
    merchant: str = typer.Option(..., help="merchant slug"),
    out: Path = typer.Option(..., help="the CSV file to write"),
) -> None:
    """Export orders in the generic format (one row per order line)."""
    _export("orders", merchant, out)


__all__ = ["Format", "FormatChoice", "export_app", "import_app"]
