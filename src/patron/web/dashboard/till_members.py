"""The member at the till: finding them, what the clerk should know now (birthday this week,
points about to expire, how far the next tier is), and topping up stored value with the bonus
shown before the member pays."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.checkout.members import member_id_from_token
from patron.checkout.service import TillQuote
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep
from patron.i18n import N_
from patron.members import service as members
from patron.members.models import Member
from patron.orders import service as orders
from patron.programs import stored_value
from patron.programs.bonuses import birthday_today
from patron.programs.calendar import merchant_zone
from patron.programs.rules import stored_value_rule
from patron.tenancy.models import Role
from patron.web import loyalty
from patron.web.auth import StaffContext, StaffDep
from patron.web.dashboard.member_loyalty import ADJUST_REASONS
from patron.web.dashboard.program_fields import Unreadable, money_text, read_value
from patron.web.dashboard.program_forms import Field
from patron.web.dashboard.till_cart import KEY_PATTERN, current_sale
from patron.web.dashboard.till_refusals import refusal
from patron.web.rendering import flash, formatter_for, render, translate

router = APIRouter()
NAV: list[Any] = []
FOUND_SHOWN = 10
RECENT_ORDERS = 5


def _looks_like_token(text: str) -> bool:
    # A membership card's code is one long signed word ("eyJ….sig"); phones and names are not.
    return len(text) >= 24 and "." in text and not any(ch.isspace() for ch in text)


def find_members(session: Session, merchant_id: int, text: str, secret: str) -> list[Member]:
    """Members the till's search names: a scanned (or pasted) membership code, else the
    members search (phone or its last digits, name, email, tag…), else members with that tag."""
    text = text.strip()
    if not text:
        return []
    if _looks_like_token(text):
        try:
            member = members.get_member(
                session, merchant_id, member_id_from_token(text, merchant_id, secret)
            )
        except InvalidInput:
            pass  # not a card after all: search the words
        except NotFound:
            return []
        else:
            return [live_member(session, merchant_id, member)]
    found = members.search_members(session, merchant_id, q=text, limit=FOUND_SHOWN)
    if not found:
        found = members.search_members(session, merchant_id, tag=text, limit=FOUND_SHOWN)
    return found[:FOUND_SHOWN]


def live_member(session: Session, merchant_id: int, member: Member) -> Member:
    """The member, or the one they were merged into."""
    if member.merged_into_id is not None:
        return members.get_member(session, merchant_id, member.merged_into_id)
    return member


@dataclass(frozen=True)
class Birthday:
    day: date
    today: bool


def birthday_this_week(member: Member, today: date) -> Birthday | None:
    """The member's birthday if it falls in this week (Monday to Sunday, the shop's calendar);
    29 February birthdays are celebrated on 28 February in common years, as elsewhere."""
    if member.birthday is None:
        return None
    monday = today - timedelta(days=today.weekday())
    for offset in range(7):
        day = monday + timedelta(days=offset)
        if birthday_today(member.birthday, day):
            return Birthday(day, day == today)
    return None


def member_panel(
    session: Session, staff: StaffContext, member: Member, quote: TillQuote | None
) -> dict[str, Any]:
    """What the till shows beside the sale: balances, tier, and the prompts for now."""
    m = staff.merchant_id
    today = utcnow(session).astimezone(merchant_zone(session, m)).date()
    recent = orders.member_orders(session, m, member.id, limit=RECENT_ORDERS)
    return {
        "balances": loyalty.balances(session, m, member.id),
        "tier": loyalty.tier_progress(session, m, member.id),
        "expiring": loyalty.expiring_soon(session, m, member.id),
        "birthday": birthday_this_week(member, today),
        "coupons": quote.coupons if quote else [],
        "growth_now": quote.out.growth_to_earn if quote else 0,
        "orders": recent[:RECENT_ORDERS],
        "can_adjust": staff.role.rank >= Role.MANAGER.rank,
        "adjust_key": secrets.token_urlsafe(18),
        "reasons": ADJUST_REASONS,
    }


def _money(text: str, currency: str) -> int:
    value = read_value(Field("amount", "", "money"), text, int(get_currency_precision(currency)))
    if not isinstance(value, int) or value <= 0:
        raise Unreadable(N_("Enter an amount above zero."))
    if value > stored_value.MAX_TOP_UP:
        raise Unreadable(N_("That amount is too large."))
    return value


@router.get("/till/members/{member_id}/top-up")
def top_up_page(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    amount: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Top up: the amount typed, the bonus the stored value setting gives it, and the balance
    after — shown before the member pays; Confirm records it."""
    member = live_member(
        session, staff.merchant_id, members.get_member(session, staff.merchant_id, member_id)
    )
    rule = stored_value_rule(session, staff.merchant_id, utcnow(session))
    digits = int(get_currency_precision(staff.merchant.currency))
    context: dict[str, Any] = {
        "m": member,
        "amount": amount,
        "levels": [(money_text(lv.top_up_minor, digits), lv) for lv in rule.config.bonus_levels],
        "balances": loyalty.balances(session, staff.merchant_id, member.id),
        "minor": None,
        "bonus": 0,
        "error": None,
        "key": secrets.token_urlsafe(18),
    }
    if amount.strip():
        try:
            context["minor"] = _money(amount, staff.merchant.currency)
        except Unreadable as exc:
            context["error"] = translate(request, exc.args[0])
        else:
            context["bonus"] = stored_value.top_up_bonus(
                session, staff.merchant_id, context["minor"]
            )
    return render(request, "dashboard/till/top_up.html", context)


@router.post("/till/members/{member_id}/top-up")
def top_up(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: StaffDep,
    amount_minor: Annotated[int, Form(ge=1, le=stored_value.MAX_TOP_UP)],
    expected_bonus: Annotated[int, Form(ge=0)],
    key: Annotated[str, Form(pattern=KEY_PATTERN)],
) -> Response:
    """Record the top-up once per form (key ``till-<key>``: a second tap replays it). If the
    bonus is no longer the one shown (the setting changed), nothing is recorded."""
    m = staff.merchant_id
    member = live_member(session, m, members.get_member(session, m, member_id))
    digits = int(get_currency_precision(staff.merchant.currency))
    page = f"/till/members/{member.id}/top-up"
    again = RedirectResponse(f"{page}?amount={money_text(amount_minor, digits)}", 303)
    try:
        row, created = stored_value.top_up(
            session, m, member.id, amount_minor, f"till-{key}", staff.actor
        )
        if created and row.bonus_minor != expected_bonus:
            raise BonusChanged()
    except BonusChanged:
        session.rollback()
        flash(request, translate(request, "The bonus has changed: check it again."), "error")
        return again
    except PatronError as exc:
        session.rollback()
        reason = refusal(request, exc)
        flash(request, translate(request, "Not saved: %(reason)s", reason=reason), "error")
        return again
    fmt = formatter_for(request)
    if created:
        held = loyalty.balances(session, m, member.id)
        text = translate(
            request,
            "Topped up %(amount)s with a bonus of %(bonus)s. Stored value now %(balance)s.",
            amount=fmt.money(row.principal_minor),
            bonus=fmt.money(row.bonus_minor),
            balance=fmt.money(held.stored_value),
        )
    else:
        text = translate(request, "This top-up was already recorded.")
    flash(request, text)
    at_till = current_sale(request).member_id == member.id
    return RedirectResponse("/till#member" if at_till else page, status_code=303)


class BonusChanged(Exception):
    """The top-up got another bonus than the one the clerk confirmed."""
