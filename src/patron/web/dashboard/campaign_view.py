"""What the campaign pages show, computed in Python: form parsing, the results chart's geometry
and the results CSV. Kept apart from the routes so each file stays readable."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.csv_safe import csv_writer
from patron.core.errors import InvalidInput
from patron.coupons import service as coupons
from patron.engagement import library
from patron.engagement.campaigns.models import Campaign
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.channels import channel_names
from patron.engagement.messages import KINDS
from patron.engagement.segments.service import list_segments
from patron.members import topics
from patron.members.models import Member

# The form's text fields; numbers arrive as text and are checked by CampaignIn.
FIELDS = (
    "name",
    "segment_id",
    "channel",
    "template_id",
    "topic",
    "kind",
    "coupon_template_id",
    "points",
    "holdout_percent",
    "rate_per_minute",
    "results_window_days",
)
OPTIONAL_INTS = ("coupon_template_id", "points", "rate_per_minute")


def form_values(campaign: Campaign | None) -> dict[str, str]:
    """The form's values for a draft (or the defaults of a new campaign)."""
    if campaign is None:
        defaults = {"topic": topics.GENERAL, "kind": "marketing", "holdout_percent": "10"}
        return {name: defaults.get(name, "") for name in FIELDS} | {
            "channel": "in_app",
            "results_window_days": "30",
        }
    values = {name: getattr(campaign, name, None) for name in FIELDS}
    values["holdout_percent"] = _percent_text(campaign.holdout_bp)
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _percent_text(bp: int) -> str:
    return str(bp // 100) if bp % 100 == 0 else str(bp / 100)


def parse_form(values: dict[str, str]) -> CampaignIn:
    """The submitted form as :class:`CampaignIn`; a bad number is an :class:`InvalidInput`."""
    data: dict[str, Any] = {k: v.strip() for k, v in values.items() if k in FIELDS}
    for name in OPTIONAL_INTS:
        if not data.get(name):
            data[name] = None
    if not data.get("segment_id"):
        raise InvalidInput("choose a segment", code="invalid_audience")
    try:
        return CampaignIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", code="invalid_campaign") from exc


def parse_schedule(text: str, timezone: str) -> datetime | None:
    """A ``datetime-local`` value in the merchant's time zone (empty = now)."""
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput("the schedule is not a date and time", code="invalid_schedule") from exc
    return local.replace(tzinfo=ZoneInfo(timezone))


def topic_choices(session: Session, merchant_id: int, locale: str) -> list[tuple[str, str]]:
    """(code, words in the reader's language) of the merchant's consent topics."""
    return [(t.code, topics.label(t, locale)) for t in topics.list_topics(session, merchant_id)]


def form_choices(session: Session, merchant_id: int, locale: str = "en") -> dict[str, Any]:
    """Segments, templates, coupon templates, channels, kinds and topics to choose from."""
    return {
        "topic_choices": topic_choices(session, merchant_id, locale),
        "segments": list_segments(session, merchant_id),
        "templates": library.list_templates(session, merchant_id),
        "coupon_templates": coupons.list_templates(session, merchant_id),
        "channels": channel_names(),
        "kinds": sorted(KINDS),
    }


def member_names(session: Session, merchant_id: int, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = session.scalars(
        select(Member).where(Member.merchant_id == merchant_id, Member.id.in_(ids))
    )
    return {member.id: member.display_name for member in found}


@dataclass(frozen=True)
class Chart:
    """One metric drawn as two bars (treated, holdout) and the difference with its interval.

    Coordinates are in the SVG's own units (``WIDTH`` × ``HEIGHT``); the template draws them."""

    treated_w: float
    holdout_w: float
    zero_x: float
    diff_x: float
    low_x: float | None
    high_x: float | None
    positive: bool
    significant: bool


BAR_X, BAR_MAX = 120.0, 260.0  # bars start after the group labels
AXIS_X0, AXIS_X1 = 120.0, 450.0  # the difference axis


def chart(diff: dict[str, Any] | None) -> Chart | None:
    """Geometry for one difference (None when a group is too small to compare)."""
    if diff is None:
        return None
    top = max(diff["treated"], diff["holdout"], 0.0)
    scale = BAR_MAX / top if top > 0 else 0.0
    low, high = diff["low"], diff["high"]
    ends = [0.0, diff["difference"], *(v for v in (low, high) if v is not None)]
    span = max(abs(v) for v in ends) or 1.0
    mid = (AXIS_X0 + AXIS_X1) / 2
    half = (AXIS_X1 - AXIS_X0) / 2

    def x(value: float) -> float:
        return round(mid + value / span * half, 1)

    return Chart(
        treated_w=round(diff["treated"] * scale, 1),
        holdout_w=round(diff["holdout"] * scale, 1),
        zero_x=x(0.0),
        diff_x=x(diff["difference"]),
        low_x=None if low is None else x(low),
        high_x=None if high is None else x(high),
        positive=diff["difference"] >= 0,
        significant=low is not None and high is not None and (low > 0 or high < 0),
    )


def results_csv(results: dict[str, Any]) -> str:
    """Both groups and both differences, one row each (rates as fractions, money in minor units)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["row", "members", "buyers", "revenue_minor", "treated", "holdout"])
    for grp in ("treated", "holdout"):
        g = results[grp]
        writer.writerow([grp, g["members"], g["buyers"], g["revenue_minor"], "", ""])
    writer.writerow([])
    writer.writerow(["metric", "treated", "holdout", "difference", "ci95_low", "ci95_high"])
    for metric in ("repurchase_rate", "revenue_per_member"):
        d = results[metric]
        if d is None:
            writer.writerow([metric, "", "", "", "", ""])
            continue
        writer.writerow(
            [metric, *(_num(d[k]) for k in ("treated", "holdout", "difference", "low", "high"))]
        )
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
