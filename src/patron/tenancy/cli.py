"""``patron merchant``, ``patron apikey`` and ``patron staff``: merchants and their logins."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.commands import fail
from patron.core.config import get_settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.tenancy import service as tenancy
from patron.tenancy import sessions as staff_sessions
from patron.tenancy.login import unlock_account
from patron.tenancy.models import StaffUser

merchant_app = typer.Typer(no_args_is_help=True, help="Merchants.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys.")
staff_app = typer.Typer(no_args_is_help=True, help="Dashboard users.")
console = Console()


def sessions_for_cli() -> sessionmaker[Session]:
    """Sessions on the configured database (commands commit at their end)."""
    return make_session_factory(make_engine(get_settings().database_url))


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
    if owner_email and not owner_password:
        fail("--owner-password is required with --owner-email")
    # A PatronError (bad currency, slug taken…) rolls back and leaves as one line (PatronGroup).
    with transaction(sessions_for_cli()) as session:
        merchant = tenancy.create_merchant(session, name, slug, currency, timezone, locale)
        if owner_email and owner_password:
            tenancy.create_staff_user(
                session, merchant.id, owner_email, "Owner", "owner", owner_password
            )
    console.print(f"merchant {merchant.slug} created (id {merchant.id})")


@apikey_app.command("create")
def apikey_create(
    merchant: str = typer.Option(..., help="merchant slug"),
    name: str = typer.Option("cli", help="a label for the key"),
    role: str = typer.Option("manager", help="owner, manager or clerk"),
) -> None:
    """Create an API key; it is printed once."""
    with transaction(sessions_for_cli()) as session:
        m = tenancy.find_merchant(session, merchant)
        _key, raw = tenancy.create_api_key(session, m.id, name, role)
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
    with transaction(sessions_for_cli()) as session:
        m = tenancy.find_merchant(session, merchant)
        tenancy.create_staff_user(session, m.id, email, name, role, password)
    console.print(f"staff user {email} created")


def _staff_id(session: Session, merchant_id: int, email: str) -> int:
    user = session.scalar(
        select(StaffUser).where(
            StaffUser.merchant_id == merchant_id, StaffUser.email == email.strip().lower()
        )
    )
    if user is None:
        fail(f"no staff user {email} at this merchant")
    return user.id


@staff_app.command("set-password")
def staff_set_password(
    merchant: str = typer.Option(..., help="merchant slug"),
    email: str = typer.Option(...),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a new password; every session of the user ends and the sign-in lock is lifted."""
    with transaction(sessions_for_cli()) as session:
        m = tenancy.find_merchant(session, merchant)
        user = staff_sessions.change_password(
            session, m.id, _staff_id(session, m.id, email), password
        )
        unlock_account(session, user.email)
    console.print(f"password of {email} changed; every session of it has ended")


@staff_app.command("remove")
def staff_remove(
    merchant: str = typer.Option(..., help="merchant slug"),
    email: str = typer.Option(...),
) -> None:
    """Remove a dashboard login; its sessions end at once."""
    with transaction(sessions_for_cli()) as session:
        m = tenancy.find_merchant(session, merchant)
        staff_sessions.remove_staff_user(session, m.id, _staff_id(session, m.id, email))
    console.print(f"staff user {email} removed; every session of it has ended")
