"""``patron demo``: a realistic merchant with 18 months of history, in one command."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings, get_settings
from patron.core.db import make_engine, make_session_factory
from patron.core.errors import Conflict, PatronError
from patron.demo import catalogue as cat
from patron.demo.generate import DemoConfig
from patron.demo.write import (
    DemoLogin,
    create_demo_merchant,
    find_demo,
    now_of,
    owner_email,
    write_history,
)

console = Console()
err = Console(stderr=True)


def print_login(settings: Settings, login: DemoLogin) -> None:
    console.print(f"dashboard: {settings.base_url}/login")
    console.print(f"login:     {login.email} / {login.password}")
    if login.api_key:
        console.print(f"manager API key (shown once): {login.api_key}", soft_wrap=True)


def run_demo(
    factory: sessionmaker[Session],
    settings: Settings,
    cfg: DemoConfig,
    slug: str,
    if_empty: bool,
    show_progress: bool = True,
) -> DemoLogin | None:
    """Build the demo merchant and its history; ``None`` if it existed and ``if_empty``."""
    with factory() as session:
        existing = find_demo(session, slug)
    if existing is not None:
        login = DemoLogin(existing.id, slug, owner_email(slug), cat.OWNER_PASSWORD, None)
        if if_empty:
            console.print(f"demo merchant {slug!r} exists; nothing to do")
            print_login(settings, login)
            return None
        raise Conflict(
            f"merchant {slug!r} exists (use --if-empty, or another --merchant-slug)",
            code="merchant_exists",
        )
    with factory.begin() as session:
        login = create_demo_merchant(session, slug, cfg.now)
    started = time.perf_counter()
    with Progress(
        TextColumn("demo history"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
    ) as bar:
        task = bar.add_task("events", total=None)
        members, orders = write_history(
            factory, login.merchant_id, cfg, lambda n: bar.advance(task, n)
        )
    elapsed = time.perf_counter() - started
    console.print(
        f"demo merchant {slug!r}: {members.created} members, {orders.created} orders, "
        f"{orders.lines_written} order lines in {elapsed:.1f} s"
    )
    if members.rejected or orders.rejected:
        first = (members.rejects + orders.rejects)[:3]
        raise PatronError(f"demo rows rejected: {first}", code="demo_rejected")
    print_login(settings, login)
    return login


def demo(
    members: int = typer.Option(5_000, "--members", min=1, help="number of members"),
    seed: int = typer.Option(42, help="random seed (same seed, same data)"),
    months: int = typer.Option(18, min=1, max=120, help="months of history up to now"),
    if_empty: bool = typer.Option(False, "--if-empty", help="do nothing if the demo exists"),
    merchant_slug: str = typer.Option(cat.MERCHANT_SLUG, "--merchant-slug"),
) -> None:
    """Create the demo merchant with stores, catalogue, members and 18 months of orders."""
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    cfg = DemoConfig(members=members, seed=seed, months=months, now=now_of(factory))
    try:
        run_demo(factory, settings, cfg, merchant_slug, if_empty)
    except PatronError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
