"""``patron verify`` and ``patron expire``: the ledger from the command line.

Listed in :mod:`patron.cli`; an error leaves as one line through
:class:`patron.core.commands.PatronGroup`."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.ledger.schedule import DEFAULT_EXPIRING_SOON_DAYS
from patron.ledger.tasks import expire_until_idle
from patron.ledger.verify import ledger_counts, verify
from patron.tenancy.service import find_merchant

console = Console()
err = Console(stderr=True)


def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _merchant_id(session: Session, slug: str | None) -> int | None:
    return find_merchant(session, slug).id if slug else None


def verify_command(
    merchant: str | None = typer.Option(None, help="only this merchant (slug)"),
) -> None:
    """Recompute every balance and lot from the postings; exit 1 on any drift."""
    with transaction(_sessions()) as session:
        merchant_id = _merchant_id(session, merchant)
        drifts = verify(session, merchant_id)
        counts = ledger_counts(session, merchant_id)
    if drifts:
        for drift in drifts:
            err.print(f"drift: {drift}", soft_wrap=True, highlight=False)
        err.print(f"[red]ledger drift:[/red] {len(drifts)} problem(s) found")
        raise typer.Exit(1)
    console.print(
        f"ledger verified: {counts.accounts} accounts, {counts.entries} entries, "
        f"{counts.lots} lots, no drift",
        highlight=False,
    )


def expire_command(
    merchant: str | None = typer.Option(None, help="only this merchant (slug)"),
    days: int = typer.Option(DEFAULT_EXPIRING_SOON_DAYS, help="warn this many days ahead"),
) -> None:
    """Release pending points whose window has ended, expire due lots, announce expiring ones."""
    sessions = _sessions()
    with transaction(sessions) as session:
        merchant_id = _merchant_id(session, merchant)
    # in batches, one transaction each, until nothing is due
    run = expire_until_idle(sessions, merchant_id, days)
    console.print(
        f"points released: {run.released} lots, expired: {run.expired} lots, "
        f"expiring soon announced: {run.announced} lots",
        highlight=False,
    )
