"""``patron analytics …``: keep the analytics copy current and print the numbers."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import typer
from rich.console import Console

from patron.analytics.engines import connect_duckdb
from patron.analytics.facts import PERIODS, Period
from patron.analytics.suite import compute_suite
from patron.analytics.sync import sync
from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory

app = typer.Typer(no_args_is_help=True, help="Analytics: the analytics copy and the metrics.")
console = Console()
err = Console(stderr=True)


@app.command("sync")
def sync_command(
    path: str | None = typer.Option(None, help="DuckDB file (default PATRON_ANALYTICS_PATH)"),
) -> None:
    """Copy new and changed rows from the database into the analytics copy."""
    settings = get_settings()
    target = path or settings.analytics_path
    connect_duckdb(target).disconnect()  # creates the parent folder
    with duckdb.connect(target) as duck:
        report = sync(make_engine(settings.database_url), duck)
    for table, rows in report.rows_read.items():
        console.print(f"{table}: {rows} rows read")
    console.print(f"analytics copy up to date ({target})")


@app.command("metrics")
def metrics_command(
    merchant_id: int = typer.Option(..., "--merchant-id", help="merchant id"),
    start: str = typer.Option(..., help="first local date, YYYY-MM-DD"),
    end: str = typer.Option(..., help="day after the last, YYYY-MM-DD"),
    period: str = typer.Option("month", help="day, week or month"),
    path: str | None = typer.Option(None, help="DuckDB file (default PATRON_ANALYTICS_PATH)"),
) -> None:
    """Print the window's headline figures as JSON (run ``sync`` first)."""
    if period not in PERIODS:
        err.print(f"[red]error:[/red] period must be one of {', '.join(PERIODS)}")
        raise typer.Exit(1)
    try:
        first, after = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        err.print("[red]error:[/red] dates are YYYY-MM-DD")
        raise typer.Exit(1) from None
    p: Period = period
    con = connect_duckdb(path or get_settings().analytics_path, read_only=True)
    suite = compute_suite(con, merchant_id, first, after, p)
    scalars = {k: v for k, v in suite.items() if not isinstance(v, pd.DataFrame)}
    console.print_json(json.dumps(scalars, default=str))


@app.command("predict")
def predict_command(
    merchant: str = typer.Option(..., help="merchant slug"),
    model: str = typer.Option("bgnbd", help="bgnbd or pnbd"),
    horizon_days: int = typer.Option(90, help="expected purchases over the next N days"),
    clv_months: int = typer.Option(12, help="lifetime value horizon, months"),
    discount_rate: float = typer.Option(0.01, help="monthly discount rate of the CLV"),
    path: str | None = typer.Option(None, help="DuckDB file (default PATRON_ANALYTICS_PATH)"),
) -> None:
    """Sync, fit the models on the merchant's orders and store every member's predictions."""
    from sqlalchemy import select

    from patron.analytics.predict import PredictConfig
    from patron.analytics.predict_run import predict_merchant
    from patron.core.errors import PatronError
    from patron.tenancy.models import Merchant

    if model not in ("bgnbd", "pnbd"):
        err.print("[red]error:[/red] model must be bgnbd or pnbd")
        raise typer.Exit(1)
    settings = get_settings()
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions() as s:
        merchant_id = s.scalar(select(Merchant.id).where(Merchant.slug == merchant))
    if merchant_id is None:
        err.print(f"[red]error:[/red] no merchant {merchant!r}")
        raise typer.Exit(1)
    config = PredictConfig(model, horizon_days, clv_months, discount_rate)  # type: ignore[arg-type]
    try:
        out = predict_merchant(sessions, path or settings.analytics_path, merchant_id, config)
    except PatronError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"{out.members} members scored ({model}, fitted at {out.fitted_at:%Y-%m-%d %H:%M})"
    )
