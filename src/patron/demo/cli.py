"""``patron demo``: a realistic merchant with 18 months of history, in one command."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings, get_settings
from patron.core.db import make_engine, make_session_factory
from patron.core.errors import Conflict, PatronError
from patron.demo import catalogue as cat
from patron.demo.engage import switch_on_journeys
from patron.demo.generate import DemoConfig, events, joins_and_orders
from patron.demo.replay import replay_history
from patron.demo.seasonality import build_calendar
from patron.demo.setup import setup_programs
from patron.demo.write import (
    DemoLogin,
    create_demo_merchant,
    find_demo,
    now_of,
    owner_email,
    write_history,
)

# Above this many members the history is bulk-written (a replay through the programs takes
# about a minute per 5,000 members on a small machine; see docs/demo.md).
FAST_ABOVE = 50_000
console = Console()


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
    fast: bool = False,
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
    started = time.perf_counter()
    if fast:
        with factory.begin() as session:
            login = create_demo_merchant(session, slug, cfg.now, cfg.now)
        _write_fast(factory, login, cfg, show_progress)
    else:
        login = _replay(factory, settings, cfg, slug, show_progress)
    elapsed = time.perf_counter() - started
    console.print(f"demo merchant {slug!r} built in {elapsed:.1f} s")
    print_login(settings, login)
    return login


def _bar(show_progress: bool) -> Progress:
    """Members joined and orders placed out of the history's total (counted up front from the
    generator's draws), time spent and time left."""
    return Progress(
        TextColumn("demo history"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("members and orders ·"),
        TimeElapsedColumn(),
        TextColumn("elapsed ·"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=console,
        disable=not show_progress,
    )


def _replay(
    factory: sessionmaker[Session], settings: Settings, cfg: DemoConfig, slug: str, show: bool
) -> DemoLogin:
    """The merchant set up at the start of the history, then the history through the programs
    on a clock that travels from event to event (ADR 0750)."""
    since = build_calendar(cfg.now, cfg.months, cfg.timezone).start_utc
    clock = FrozenClock(since)
    travelling = make_session_factory(factory.kw["bind"], clock)
    with travelling.begin() as session:
        login = create_demo_merchant(session, slug, since, cfg.now)
        programs = setup_programs(session, login.merchant_id, since)
        switch_on_journeys(session, login.merchant_id)
    with _bar(show) as bar:
        task = bar.add_task("events", total=joins_and_orders(cfg))
        result = replay_history(
            travelling,
            clock,
            settings,
            login.merchant_id,
            cfg,
            programs,
            events(cfg),
            lambda n: bar.advance(task, n),
        )
    console.print(
        f"demo history through the programs: {result.members} members, {result.orders} orders, "
        f"{result.refunds} refunds, {result.worker_rounds} worker rounds; "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(result.counts.items()))
    )
    return login


def _write_fast(
    factory: sessionmaker[Session], login: DemoLogin, cfg: DemoConfig, show: bool
) -> None:
    """Bulk mode: the history written through the import's bulk writer, no programs."""
    started = time.perf_counter()
    with _bar(show) as bar:
        task = bar.add_task("events", total=joins_and_orders(cfg))
        members, orders = write_history(
            factory, login.merchant_id, cfg, lambda n: bar.advance(task, n)
        )
    elapsed = time.perf_counter() - started
    console.print(
        f"demo merchant {login.slug!r}: {members.created} members, {orders.created} orders, "
        f"{orders.lines_written} order lines in {elapsed:.1f} s"
    )
    if members.rejected or orders.rejected:
        first = (members.rejects + orders.rejects)[:3]
        raise PatronError(f"demo rows rejected: {first}", code="demo_rejected")


def demo(
    members: int = typer.Option(5_000, "--members", min=1, help="number of members"),
    seed: int = typer.Option(42, help="random seed (same seed, same data)"),
    months: int = typer.Option(18, min=1, max=120, help="months of history up to now"),
    if_empty: bool = typer.Option(False, "--if-empty", help="do nothing if the demo exists"),
    merchant_slug: str = typer.Option(cat.MERCHANT_SLUG, "--merchant-slug"),
    fast: bool = typer.Option(
        False,
        "--fast",
        help="bulk-write the history without the programs (default above 50,000 members)",
    ),
) -> None:
    """Create the demo merchant with stores, catalogue, members and 18 months of orders, run
    through its loyalty programs (points, tiers, top-ups, coupons, points mall)."""
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    cfg = DemoConfig(members=members, seed=seed, months=months, now=now_of(factory))
    if members > FAST_ABOVE and not fast:
        console.print(
            f"{members:,} members: the history is bulk-written without the programs (--fast); "
            f"up to {FAST_ABOVE:,} members it runs through them"
        )
        fast = True
    run_demo(factory, settings, cfg, merchant_slug, if_empty, fast=fast)
