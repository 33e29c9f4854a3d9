"""Merging two members: tiers, tier history, top-ups and order payments follow the kept member.

The kept member keeps the higher of the two tiers (and the higher floor), then the tier is
re-evaluated from the growth of both, so a merge never lowers anyone's tier (ADR 0371).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.members.merge import STAGE_AFTER, STAGE_PROGRAMS, register_merge_hook
from patron.programs.models import OrderPayment, TierChange, TopUp
from patron.programs.rules import tiers_rule
from patron.programs.tiers import member_tier, reevaluate, tier_rank


def _repoint(session: Session, model: type, merchant_id: int, keep_id: int, gone_id: int) -> None:
    session.execute(
        update(model)
        .where(model.merchant_id == merchant_id, model.member_id == gone_id)  # type: ignore[attr-defined]
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )


def _merge_tier(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    gone = member_tier(session, merchant_id, gone_id)
    if gone is None:
        return
    keep = member_tier(session, merchant_id, keep_id)
    if keep is None:
        gone.member_id = keep_id  # the only tier row: it simply changes hands
        session.flush()
        return
    rule = tiers_rule(session, merchant_id, utcnow(session))
    if rule is not None:
        cfg = rule.config
        if tier_rank(cfg, gone.tier_code) > tier_rank(cfg, keep.tier_code):
            keep.tier_code, keep.since = gone.tier_code, gone.since
        # Neither record is demoted by the merge: the higher tier is kept until the next
        # evaluation, as an evaluation would have kept it.
        floors = (keep.floor_code, gone.floor_code, keep.tier_code)
        keep.floor_code = max(floors, key=lambda code: tier_rank(cfg, code))
    session.delete(gone)
    session.flush()


def merge_programs(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Move member ``gone_id``'s tier, tier history, top-ups and order payments to ``keep_id``."""
    for model in (TierChange, TopUp, OrderPayment):
        _repoint(session, model, merchant_id, keep_id, gone_id)
    _merge_tier(session, merchant_id, keep_id, gone_id)


def reevaluate_tier(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Raise the kept member's tier if the growth of both now earns more (runs once the
    tombstone is marked, so the merged member's growth counts)."""
    if member_tier(session, merchant_id, keep_id) is not None:
        reevaluate(session, merchant_id, keep_id, f"merged with member {gone_id}")


register_merge_hook(merge_programs, STAGE_PROGRAMS)
register_merge_hook(reevaluate_tier, STAGE_AFTER)
