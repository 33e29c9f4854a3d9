"""``patron analytics …``: keep the analytics copy current and print the numbers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console

from patron.analytics.clv.api import MODEL_NAMES, clv_from_transactions
from patron.analytics.copy_lock import copy_connection, hold_copy
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
    with copy_connection(target) as duck:
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
    target = path or get_settings().analytics_path
    with hold_copy(target):
        con = connect_duckdb(target, read_only=True)
        try:
            suite = compute_suite(con, merchant_id, first, after, p)
        finally:
            con.disconnect()
    scalars = {k: v for k, v in suite.items() if not isinstance(v, pd.DataFrame)}
    console.print_json(json.dumps(scalars, default=str))


@app.command("predict")
def predict_command(
    merchant: str = typer.Option(..., help="merchant slug"),
    model: str = typer.Option("bgnbd", help="bgnbd or pnbd"),
    horizon_days: int = typer.Option(90, help="expected purchases over the next N days"),
    clv_months: int = typer.Option(12, help="lifetime value horizon, months"),
    discount_rate: float = typer.Option(0.01, help="monthly discount rate of the CLV"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="last day of history to learn from, YYYY-MM-DD (default today)"
    ),
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
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err.print(f"[red]error:[/red] --as-of must be a date YYYY-MM-DD, not {as_of!r}")
        raise typer.Exit(1) from None
    settings = get_settings()
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions() as s:
        merchant_id = s.scalar(select(Merchant.id).where(Merchant.slug == merchant))
    if merchant_id is None:
        err.print(f"[red]error:[/red] no merchant {merchant!r}")
        raise typer.Exit(1)
    config = PredictConfig(model, horizon_days, clv_months, discount_rate)  # type: ignore[arg-type]
    try:
        out = predict_merchant(
            sessions, path or settings.analytics_path, merchant_id, config, as_of=day
        )
    except PatronError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    history = f", history up to {day}" if day else ""
    console.print(
        f"{out.members} members scored ({model}, fitted at {out.fitted_at:%Y-%m-%d %H:%M}{history})"
    )


def read_transactions(
    path: Path, columns: list[str], sep: str, date_format: str | None
) -> pd.DataFrame:
    """The transaction file's needed columns, dates parsed; ValueError with a readable reason."""
    if not path.is_file():
        raise ValueError(f"cannot read {path}: no such file")
    try:
        df = pd.read_csv(
            path, sep=r"\s+" if sep == "whitespace" else sep, dtype=str, engine="python"
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise ValueError(f"column {missing[0]!r} is not in {path.name} (columns: {found})")
    date_col = columns[1]
    parsed = pd.to_datetime(df[date_col], format=date_format, errors="coerce")
    bad = df[date_col][parsed.isna()]
    if len(bad):
        raise ValueError(
            f"bad date {bad.iloc[0]!r} in column {date_col!r} (row {bad.index[0] + 2})"
        )
    df[date_col] = parsed
    if len(columns) > 2:
        amount = pd.to_numeric(df[columns[2]], errors="coerce")
        if amount.isna().any():
            row = int(amount.isna().to_numpy().argmax())
            raise ValueError(
                f"bad amount {df[columns[2]].iloc[row]!r} in column {columns[2]!r} (row {row + 2})"
            )
        df[columns[2]] = amount
    return df


@app.command("clv")
def clv_command(
    transactions: Path = typer.Option(..., "--transactions", help="CSV file, one row a purchase"),
    customer_col: str = typer.Option(..., "--customer-col", help="customer id column"),
    date_col: str = typer.Option(..., "--date-col", help="purchase date column"),
    amount_col: str | None = typer.Option(None, "--amount-col", help="amount column (gg needs it)"),
    calibration_end: str = typer.Option(..., "--calibration-end", help="YYYY-MM-DD"),
    observation_end: str | None = typer.Option(None, "--observation-end", help="default: last"),
    model: str = typer.Option("bgnbd", "--model", help="bgnbd, pnbd, mbgnbd or gg"),
    freq: str = typer.Option("D", "--freq", help="time unit: D (days) or W (weeks)"),
    sep: str = typer.Option(",", "--sep", help="column separator; 'whitespace' for blanks"),
    date_format: str | None = typer.Option(None, "--date-format", help="e.g. %Y%m%d"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Fit a buy-till-you-die model on a transaction file; print parameters and holdout fit."""
    try:
        result = _fit_file(
            transactions,
            [customer_col, date_col, *([amount_col] if amount_col else [])],
            calibration_end,
            observation_end,
            model,
            freq,
            sep,
            date_format,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print_fit(result)


def _fit_file(
    path: Path,
    columns: list[str],
    calibration_end: str,
    observation_end: str | None,
    model: str,
    freq: str,
    sep: str,
    date_format: str | None,
) -> dict[str, Any]:
    if model not in MODEL_NAMES:
        raise ValueError(f"--model must be one of {', '.join(MODEL_NAMES)}")
    if freq not in ("D", "W"):
        raise ValueError("--freq must be D or W")
    if model == "gg" and len(columns) < 3:
        raise ValueError("the gg model needs --amount-col")
    for label, value in (
        ("--calibration-end", calibration_end),
        ("--observation-end", observation_end),
    ):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{label} must be a date YYYY-MM-DD, not {value!r}") from None
    df = read_transactions(path, columns, sep, date_format)
    if df.empty:
        raise ValueError(f"{path.name} holds no transactions")
    if df[columns[1]].min() > pd.Timestamp(calibration_end):
        raise ValueError("no customer made a first purchase by --calibration-end")
    return clv_from_transactions(
        df,
        columns[0],
        columns[1],
        columns[2] if len(columns) > 2 else None,
        calibration_end,
        model=model,  # type: ignore[arg-type]
        freq=freq,  # type: ignore[arg-type]
        observation_end=observation_end,
    )


def _print_fit(result: dict[str, Any]) -> None:
    reason = f" ({result['reason']})" if result.get("reason") else ""
    console.print(
        f"{result['model']}: {result['n_customers']} customers, "
        f"log-likelihood {result['log_likelihood']:.4f}, converged {result['converged']}{reason}",
        highlight=False,
        soft_wrap=True,
    )
    for name, value in result["params"].items():
        console.print(f"  {name} = {value:.6g}")
    if result["holdout"]:
        console.print("holdout (calibration repeat purchases → holdout purchases):")
        for row in result["holdout"]:
            console.print(
                f"  {row['bucket']}: actual {row['actual']}, predicted {row['predicted']:.1f}"
            )
