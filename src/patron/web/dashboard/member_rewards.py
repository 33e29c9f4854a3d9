"""A member's check-ins and rewarded actions on the member page (ADR 1320, 1321)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.members.models import Member
from patron.programs.rules import actions_rule
from patron.rewards import actions, checkin
from patron.web.nav import Panel

router = APIRouter()
SHOWN = 10


def _rewards(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    rule = actions_rule(session, merchant_id, utcnow(session))
    labels = {a.name: a.label for a in rule.config.actions} if rule else {}
    return {
        "state": checkin.state(session, merchant_id, member.id),
        "check_ins": checkin.history(session, merchant_id, member.id, SHOWN)[:SHOWN],
        "actions": actions.history(session, merchant_id, member.id, SHOWN)[:SHOWN],
        "labels": labels,
    }


MEMBER_PANELS = [Panel("rewards", "dashboard/loyalty/_rewards.html", _rewards, order=35)]
