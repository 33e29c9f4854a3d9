"""Campaign uplift rows for the analytics pages, from whichever module runs campaigns.

Campaigns (with their holdout groups) are built by the engagement journeys work; this module
only defines what it hands over. A campaign module appends a source to ``UPLIFT_SOURCES``:
``source(session, merchant_id, start, end) -> list[CampaignOutcome]`` for campaigns sent in
[start, end). With no source registered the uplift section is simply not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from patron.analytics.uplift import mean_difference, rate_difference


@dataclass(frozen=True)
class CampaignOutcome:
    """One campaign's groups: members and buyers in the window, revenue per member (minor)."""

    campaign: str
    treated_revenue: Sequence[float]  # one value per treated member (0 when no purchase)
    holdout_revenue: Sequence[float]
    treated_buyers: int
    holdout_buyers: int


UpliftSource = Callable[[Any, int, date, date], list[CampaignOutcome]]
UPLIFT_SOURCES: list[UpliftSource] = []

COLUMNS = [
    "campaign",
    "treated",
    "holdout",
    "treated_rate",
    "holdout_rate",
    "rate_difference",
    "rate_low",
    "rate_high",
    "revenue_difference_minor",
    "revenue_low_minor",
    "revenue_high_minor",
]


def uplift_rows(session: Any, merchant_id: int, start: date, end: date) -> pd.DataFrame | None:
    """One row per campaign with both differences and their 95% intervals; None: no source."""
    if not UPLIFT_SOURCES:
        return None
    rows = []
    for source in UPLIFT_SOURCES:
        for c in source(session, merchant_id, start, end):
            n1, n2 = len(c.treated_revenue), len(c.holdout_revenue)
            if n1 < 2 or n2 < 2:
                continue  # no interval from fewer than two members a group
            rate = rate_difference(c.treated_buyers, n1, c.holdout_buyers, n2)
            money = mean_difference(c.treated_revenue, c.holdout_revenue)
            rows.append(
                [
                    c.campaign,
                    n1,
                    n2,
                    rate.treated,
                    rate.holdout,
                    rate.difference,
                    rate.low,
                    rate.high,
                    money.difference,
                    money.low,
                    money.high,
                ]
            )
    return pd.DataFrame(rows, columns=COLUMNS)
