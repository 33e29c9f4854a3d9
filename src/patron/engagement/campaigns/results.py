"""Campaign results: treated vs holdout, repurchase rate and revenue per member in a window.

Intention to treat: every treated recipient counts, whether or not a guard later skipped their
message (no consent, cap) — comparing only the messaged would flatter the campaign, because the
members who consent are the keener ones. Revenue is net of refunds; an order counts when it was
placed in ``[launched_at, launched_at + results_window_days)``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from patron.analytics.uplift import Difference, mean_difference, rate_difference
from patron.core.errors import BusinessRuleViolation
from patron.engagement.campaigns.models import CampaignRecipient
from patron.engagement.campaigns.service import get_campaign
from patron.engagement.campaigns.stats import campaign_counts
from patron.orders.models import Order, OrderStatus

COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def _as_dict(d: Difference | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "treated": d.treated,
        "holdout": d.holdout,
        "difference": d.difference,
        "low": d.low,
        "high": d.high,
    }


def campaign_results(session: Session, merchant_id: int, campaign_id: int) -> dict[str, Any]:
    """Both groups' figures and the differences with 95% intervals (None when a group is too
    small: the rate needs one member in each group, revenue two)."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    start = campaign.launched_at
    if start is None:
        raise BusinessRuleViolation("the campaign has not been launched", code="not_launched")
    end = start + timedelta(days=campaign.results_window_days)
    revenue = func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0)
    rows = session.execute(
        select(CampaignRecipient.grp, CampaignRecipient.member_id, revenue, func.count(Order.id))
        .outerjoin(
            Order,
            and_(
                Order.member_id == CampaignRecipient.member_id,
                Order.merchant_id == merchant_id,
                Order.status.in_(COUNTED),
                Order.placed_at >= start,
                Order.placed_at < end,
            ),
        )
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.grp, CampaignRecipient.member_id)
    ).all()
    spend: dict[str, list[int]] = {"treated": [], "holdout": []}
    buyers = {"treated": 0, "holdout": 0}
    for grp, _member, minor, orders in rows:
        spend[grp].append(int(minor))
        buyers[grp] += 1 if orders else 0
    groups = {
        g: {"members": len(spend[g]), "buyers": buyers[g], "revenue_minor": sum(spend[g])}
        for g in ("treated", "holdout")
    }
    t, h = spend["treated"], spend["holdout"]
    rate = (
        rate_difference(buyers["treated"], len(t), buyers["holdout"], len(h)) if t and h else None
    )
    enough = len(t) >= 2 and len(h) >= 2
    mean = mean_difference([float(x) for x in t], [float(x) for x in h]) if enough else None
    return {
        "campaign_id": campaign.id,
        "messages": campaign_counts(session, merchant_id, [campaign.id])[campaign.id].as_dict(),
        "window_start": start,
        "window_end": end,
        **groups,
        "repurchase_rate": _as_dict(rate),
        "revenue_per_member": _as_dict(mean),
    }
