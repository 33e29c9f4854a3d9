"""The portal's early access panel: products not yet released that members may buy first
(ADR 0357), and whether this member may buy them today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.i18n import N_
from patron.members.models import Member
from patron.orders.service import upcoming_releases
from patron.programs.context import current_tier, load_programs
from patron.programs.early_access import early_access_refusal
from patron.web.nav import NavItem, Panel

router = APIRouter(prefix="/portal")
NAV: list[NavItem] = []
SHOWN = 10
# What the member reads under the list, by the refusal code (None: they may buy now).
WHO_MAY_BUY = {
    None: N_("You can buy these now, before everyone else."),
    "early_access_member_day_only": N_("You can buy these on a member day, before everyone else."),
    "early_access_tier_only": N_("Early access is for members of a higher tier."),
}


@dataclass(frozen=True)
class UpcomingProduct:
    sku: str
    name: str
    price_minor: int
    release_at: datetime


def _panel(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    at = utcnow(session)
    products = upcoming_releases(session, merchant_id, at, SHOWN)
    if not products:
        return {"products": []}
    programs = load_programs(session, merchant_id, at)
    tier = current_tier(session, programs, merchant_id, member.id)
    refusal = early_access_refusal(programs, True, tier.code if tier else None)
    return {
        "products": [
            UpcomingProduct(p.sku, p.name, p.price_minor, p.release_at)
            for p in products
            if p.release_at is not None
        ],
        "may_buy_now": refusal is None,
        "who_may_buy": WHO_MAY_BUY.get(refusal.code if refusal else None, WHO_MAY_BUY[None]),
    }


PORTAL_HOME_PANELS = [Panel("early_access", "portal/_early_access.html", _panel, order=20)]
