"""Loyalty on the dashboard's member page: balances, tier, points lots, statement, coupons, and
a manager's balance adjustment with a reason."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep
from patron.i18n import N_
from patron.ledger import queries
from patron.ledger.service import Asset, EntryInfo, adjust_balance
from patron.members import service as members
from patron.members.models import Member
from patron.web import loyalty
from patron.web.auth import ManagerPageDep, StaffDep, safe_next
from patron.web.dashboard.program_fields import Unreadable, read_value
from patron.web.dashboard.program_forms import Field
from patron.web.nav import Panel
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV: list[Any] = []
STATEMENT_PAGE = 25
ADJUSTABLE = (Asset.POINTS.value, Asset.STORED_PRINCIPAL.value, Asset.STORED_BONUS.value)
ADJUST_REASONS = ("goodwill", "correction", "compensation", "promotion", "other")
REFUSALS = {
    "insufficient_balance": N_("The member does not have that much to take."),
    "invalid_amount": N_("Enter an amount above zero."),
    "idempotency_key_reused": N_(
        "This form was already used for another adjustment. Reload the page and try again."
    ),
}


def _summary(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    return {
        "balances": loyalty.balances(session, merchant_id, member.id),
        "tier": loyalty.tier_progress(session, merchant_id, member.id),
        # A fresh key per rendered form: submitting the same form twice adjusts once.
        "adjust_key": secrets.token_urlsafe(18),
        "reasons": ADJUST_REASONS,
    }


def _lots(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    return {"lots": loyalty.open_lots(session, merchant_id, member.id)}


def _statement(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    lines, cursor = loyalty.statement(session, merchant_id, member.id, 8, None)
    return {"lines": lines, "more": cursor is not None}


def _coupons(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    return {"coupons": loyalty.wallet(session, merchant_id, member.id, limit=10)}


MEMBER_PANELS = [
    Panel("balances", "dashboard/loyalty/_balances.html", _summary, order=10),
    Panel("lots", "dashboard/loyalty/_lots.html", _lots, order=20),
    Panel("statement", "dashboard/loyalty/_statement.html", _statement, order=30),
    Panel("coupons", "dashboard/loyalty/_coupons.html", _coupons, order=40),
]


@router.get("/members/{member_id}/statement")
def statement_page(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every ledger entry of the member in readable words, newest first, 25 a page."""
    member = members.get_member(session, staff.merchant_id, member_id)
    lines, nxt = loyalty.statement(session, staff.merchant_id, member_id, STATEMENT_PAGE, cursor)
    context = {
        "m": member,
        "lines": lines,
        "next_cursor": nxt,
        "paged": cursor is not None,
        "balances": loyalty.balances(session, staff.merchant_id, member_id),
    }
    return render(request, "dashboard/loyalty/statement.html", context)


def _amount(asset: str, text: str, currency: str) -> int:
    """Points are whole numbers; stored value is money typed in major units."""
    kind = "int" if asset == Asset.POINTS.value else "money"
    value = read_value(Field("amount", "", kind), text, int(get_currency_precision(currency)))
    if not isinstance(value, int) or value <= 0:
        raise Unreadable(REFUSALS["invalid_amount"])
    return value


@router.post("/members/{member_id}/adjustments")
def adjust(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    asset: Annotated[str, Form(max_length=32)],
    direction: Annotated[str, Form(max_length=8)],
    amount: Annotated[str, Form(max_length=32)],
    reason_code: Annotated[str, Form(max_length=32)],
    description: Annotated[str, Form(max_length=500)],
    key: Annotated[str, Form(min_length=16, max_length=64)],
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A manager gives or takes points or stored value, with a reason the member reads.
    ``back``: the page to return to (the till), else the member's page."""
    queries.check_member(session, staff.merchant_id, member_id)
    target = safe_next(back) if back else f"/members/{member_id}#balances"
    done = RedirectResponse(target, status_code=303)
    try:
        if asset not in ADJUSTABLE or direction not in {"add", "deduct"}:
            raise NotFound("unknown balance", code="invalid_asset")
        if reason_code not in ADJUST_REASONS or not description.strip():
            raise Unreadable(N_("Say why, in words the member will read."))
        value = _amount(asset, amount, staff.merchant.currency)
    except Unreadable as exc:
        flash(request, translate(request, exc.args[0]), "error")
        return done
    signed = value if direction == "add" else -value
    info = EntryInfo(
        reason_code=reason_code,
        description=description.strip(),
        actor=staff.actor,
        note=note.strip() or None,
        object_type="member",
        object_id=str(member_id),
    )
    body = {"member_id": member_id, "asset": asset, "amount": signed, "reason": reason_code}
    try:
        adjust_balance(
            session,
            staff.merchant_id,
            member_id,
            Asset(asset),
            signed,
            info,
            idempotency_key=f"dashboard-adjust:{key}",
            body=body | {"description": info.description, "note": info.note},
        )
    except PatronError as exc:
        if isinstance(exc, NotFound):
            raise
        refusal = REFUSALS.get(exc.code)
        text = translate(request, refusal) if refusal else exc.message
        flash(request, translate(request, "Not saved: %(reason)s", reason=text), "error")
        return done
    flash(request, translate(request, "Balance adjusted."))
    return done
