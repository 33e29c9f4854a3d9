"""Posting a reward: points as a new lot and growth, in one ledger entry with its words."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.ledger.models import Asset
from patron.ledger.moves import Earn, post_moves
from patron.ledger.service import EntryInfo, Leg
from patron.ledger.words import Words
from patron.programs.calendar import expiry_at, merchant_zone
from patron.programs.purchase import GROWTH_ISSUED
from patron.programs.rules import points_rule
from patron.programs.tiers import reevaluate


def reward_words(what: Words, points: int, growth: int) -> Words:
    """ "Check-in, day 3: 5 points earned, 1 growth earned" (rendered when read, ADR 0621)."""
    parts = []
    if points:
        parts.append(Words("points_earned", {"points": points}))
    if growth:
        parts.append(Words("growth_earned", {"growth": growth}))
    return Words(what.code, what.params, tuple(parts))


def grant(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    growth: int,
    info: EntryInfo,
    tier_reason: str,
) -> int | None:
    """Post ``points`` (a lot expiring as the points setting in force says) and ``growth`` as
    one entry; the tier follows the growth at once. Returns the entry id (None: nothing)."""
    if points <= 0 and growth <= 0:
        return None
    now = utcnow(session)
    earn = None
    if points > 0:
        rule = points_rule(session, merchant_id, now)
        expires = (
            expiry_at(rule.config.expiry, now, merchant_zone(session, merchant_id))
            if rule is not None
            else None
        )
        earn = Earn(points, expires_at=expires)
    legs = []
    if growth > 0:
        legs = [
            Leg.member(member_id, Asset.GROWTH, growth),
            Leg.merchant(GROWTH_ISSUED, Asset.GROWTH, -growth),
        ]
    moved = post_moves(session, merchant_id, member_id, info, legs=legs, earn=earn)
    if growth > 0:
        reevaluate(session, merchant_id, member_id, tier_reason)
    return moved.entry.id if moved.entry is not None else None
