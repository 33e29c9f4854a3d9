"""``patron member export`` and ``patron member erase``: a member's personal data from the
command line (an operator answering an access or erasure request without the dashboard).

Listed in :mod:`patron.cli`; an error leaves as one line through
:class:`patron.core.commands.PatronGroup`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.errors import InvalidInput
from patron.privacy.erase import erase_member
from patron.privacy.export import export_member
from patron.tenancy.service import find_merchant

member_app = typer.Typer(help="A member's personal data: export or erase.", no_args_is_help=True)
console = Console()


@member_app.command("export")
def export_command(
    member_id: int = typer.Argument(help="the member's number"),
    merchant: str = typer.Option(..., help="the merchant's slug"),
    output: Path | None = typer.Option(None, help="write to this file (default: standard output)"),
) -> None:
    """Write everything held on the member as JSON."""
    sessions = make_session_factory(make_engine(get_settings().database_url), read_only=True)
    with transaction(sessions) as session:
        document = export_member(session, find_merchant(session, merchant).id, member_id)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"member {member_id} exported to {output}", highlight=False)


@member_app.command("erase")
def erase_command(
    member_id: int = typer.Argument(help="the member's number"),
    merchant: str = typer.Option(..., help="the merchant's slug"),
    reason: str = typer.Option(..., help="why, without personal data"),
    confirm: int = typer.Option(..., help="the member's number again, to confirm"),
) -> None:
    """Erase the member's personal data; orders, balances and totals stay."""
    if confirm != member_id:
        raise InvalidInput(f"--confirm must repeat the member number {member_id}")
    sessions = make_session_factory(make_engine(get_settings().database_url))
    with transaction(sessions) as session:
        merchant_id = find_merchant(session, merchant).id
        erasure, erased = erase_member(session, merchant_id, member_id, actor="cli", reason=reason)
        when = erasure.erased_at.isoformat()
    said = "erased" if erased else "was already erased"
    console.print(f"member {member_id} {said} at {when}", highlight=False)
