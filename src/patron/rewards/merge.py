"""Merging two members: check-ins and actions follow the kept member (ADR 1320, 1321).

Actions all move (their event ids are unique per merchant). A check-in moves unless the kept
member checked in the same day: that one stays with the merged record, as history (one
check-in per member and day)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.merge_hooks import STAGE_ROWS, register_merge_hook
from patron.rewards.models import MemberAction, MemberCheckIn


def merge_rewards(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    session.execute(
        update(MemberAction)
        .where(MemberAction.merchant_id == merchant_id, MemberAction.member_id == gone_id)
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )
    kept_days = select(MemberCheckIn.local_day).where(
        MemberCheckIn.merchant_id == merchant_id, MemberCheckIn.member_id == keep_id
    )
    session.execute(
        update(MemberCheckIn)
        .where(
            MemberCheckIn.merchant_id == merchant_id,
            MemberCheckIn.member_id == gone_id,
            MemberCheckIn.local_day.not_in(kept_days.scalar_subquery()),
        )
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )


register_merge_hook(merge_rewards, STAGE_ROWS)
