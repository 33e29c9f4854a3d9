"""``patron programs show --merchant SLUG``: the settings in force, in the merchant's words."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from patron.core.clock import utcnow
from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.programs.config import Kind
from patron.programs.rules import rule_row
from patron.tenancy.service import find_merchant

app = typer.Typer(no_args_is_help=True, help="Loyalty programs.")
console = Console()


@app.command("show")
def show(merchant: str = typer.Option(..., help="merchant slug")) -> None:
    """Print every program setting in force now, with its version."""
    sessions = make_session_factory(make_engine(get_settings().database_url))
    with transaction(sessions) as session:
        merchant_id = find_merchant(session, merchant).id
        now = utcnow(session)
        for kind in Kind:
            row = rule_row(session, merchant_id, kind, now)
            if row is None:
                console.print(f"[bold]{kind.value}[/bold]: not set")
                continue
            console.print(
                f"[bold]{kind.value}[/bold] v{row.version} "
                f"(from {row.effective_from.isoformat()}, by {row.actor})"
            )
            console.print(json.dumps(row.config, indent=2, ensure_ascii=False), markup=False)
