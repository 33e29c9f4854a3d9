"""Early access (ADR 0357): who may buy a product before its release time.

A product whose ``release_at`` lies ahead is for members only; the member day setting says
whether on any day or on member days only, and may name the tiers that have early access.
After ``release_at`` anyone may buy it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from patron.programs.context import Programs


@dataclass(frozen=True)
class EarlyAccessRefusal:
    """Why this buyer may not buy an unreleased product yet (a stable code and a sentence)."""

    code: str
    reason: str


def is_unreleased(release_at: datetime | None, at: datetime) -> bool:
    return release_at is not None and at < release_at


def early_access_refusal(
    programs: Programs, is_member: bool, tier_code: str | None
) -> EarlyAccessRefusal | None:
    """None if this buyer may buy unreleased products at ``programs.at``; else why not."""
    if not is_member:
        return EarlyAccessRefusal("early_access_members_only", "only members may buy it")
    config = programs.member_day.config if programs.member_day else None
    if config is None:
        return None
    if config.early_access == "member_day" and not programs.is_member_day:
        return EarlyAccessRefusal(
            "early_access_member_day_only", "members may buy it on a member day only"
        )
    if config.early_access_tiers and tier_code not in config.early_access_tiers:
        tiers = ", ".join(config.early_access_tiers)
        return EarlyAccessRefusal(
            "early_access_tier_only", f"only members of these tiers may buy it: {tiers}"
        )
    return None
