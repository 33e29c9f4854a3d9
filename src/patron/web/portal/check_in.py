"""The member's daily check-in in the portal: a card on the home page (today's state, the
streak, the next milestone, the last 7 days) and the one tap that checks in (ADR 1320)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.http import SessionDep
from patron.i18n import N_
from patron.members.models import Member
from patron.rewards import checkin
from patron.web.auth import MemberDep
from patron.web.nav import Panel
from patron.web.rendering import flash, formatter_for, translate

router = APIRouter(prefix="/portal")
REFUSALS = {
    "already_checked_in": N_("You have already checked in today. See you tomorrow!"),
    "check_in_not_offered": N_("Daily check-in is not available right now."),
}


def _card(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    return {"state": checkin.state(session, merchant_id, member.id)}


PORTAL_HOME_PANELS = [Panel("check_in", "portal/rewards/_check_in.html", _card, order=5)]


@router.post("/check-in")
def check_in(request: Request, session: SessionDep, who: MemberDep) -> Response:
    """Check in today; the home page says what it earned, or why not."""
    try:
        row = checkin.check_in(session, who.merchant_id, who.member.id, source="portal")
    except PatronError as exc:
        if exc.status_code == 404:
            raise
        refusal = REFUSALS.get(exc.code)
        flash(request, translate(request, refusal) if refusal else exc.message, "error")
        return RedirectResponse("/portal#check-in", status_code=303)
    fmt = formatter_for(request)
    text = translate(
        request,
        "Checked in: day %(streak)s in a row, %(points)s points.",
        streak=fmt.number(row.streak),
        points=fmt.number(row.points),
    )
    if row.coupon_code_ids:
        text += " " + translate(request, "A coupon is waiting in your wallet.")
    flash(request, text)
    return RedirectResponse("/portal#check-in", status_code=303)
