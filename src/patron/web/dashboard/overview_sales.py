"""The overview's sales figures: revenue, orders, repeat rate and active members for the last
7, 30 or 90 days against the same number of days before (ADR 0505).

They come from the analytics copy with the analytics page's definitions
(:func:`patron.analytics.spans.span_figures`), cached per version of the copy; a stale copy is
brought up to date in the background and the cards say how fresh they are. Managers and owners
see them (as they see the analytics page); clerks do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy.orm import Session

from patron.analytics.charts import percent, plain
from patron.analytics.labels import labels_for
from patron.core.config import Settings
from patron.core.deferred import deferred_module
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.web.auth import StaffContext
from patron.web.dashboard.analytics import copy_for_page, freshness, merchant_today
from patron.web.rendering import resolve_locale

if TYPE_CHECKING:
    import pandas as pd
    from ibis.common import exceptions as ibis_errors

    from patron.analytics import insights, page_cache
else:
    # pandas, Ibis and DuckDB load with the first overview that shows sales (ADR 0010).
    pd = deferred_module("pandas")
    ibis_errors = deferred_module("ibis.common.exceptions")
    insights = deferred_module("patron.analytics.insights")
    page_cache = deferred_module("patron.analytics.page_cache")

SALES_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class SalesCard:
    key: str
    label: str
    value: str
    delta: str
    direction: str
    hint: str


@dataclass(frozen=True)
class Sales:
    """What the overview shows: the cards, which days they compare, and the copy's freshness
    (``cards`` is empty while the copy is being prepared for the first time)."""

    days: int
    cards: list[SalesCard]
    compared: str
    synced_at: datetime | None
    synced_ago: str
    syncing: bool


CARDS = (
    ("revenue", N_("Revenue"), "net_revenue_minor", "money", N_("net of refunds")),
    ("orders", N_("Orders"), "orders", "count", N_("purchases, refunded ones left out")),
    (
        "repeat_rate",
        N_("Repurchase rate"),
        "repurchase_rate",
        "rate",
        N_("share of customers who bought twice or more"),
    ),
    (
        "active_members",
        N_("Active members"),
        "active_members",
        "count",
        N_("bought, visited the portal, or opened or clicked a message"),
    ),
)


def chosen_days(value: str) -> int:
    return int(value) if value.isdigit() and int(value) in SALES_DAYS else DEFAULT_DAYS


def sales_for(
    request: Request, session: Session, staff: StaffContext, settings: Settings, days: int
) -> Sales | None:
    """The overview's sales cards for a manager or owner; None for a clerk."""
    if staff.role.rank < Role.MANAGER.rank:
        return None
    state = copy_for_page(request, settings)
    locale = resolve_locale(request)
    labels = labels_for(locale, staff.merchant.currency)
    synced = state.synced_at.replace(tzinfo=UTC) if state.synced_at else None
    ago = freshness(state, locale)
    if state.synced_at is None:
        return Sales(days, [], "", synced, ago, state.syncing)
    view = page_cache.SalesView(
        settings.analytics_path,
        staff.merchant_id,
        merchant_today(session, staff.merchant.timezone),
        days,
    )
    try:
        frame: pd.DataFrame = page_cache.remember(view, state.synced_at, session)
    except ibis_errors.TableNotFound:  # a copy from an older Patron: the next sync brings the table
        return Sales(days, [], "", synced, ago, state.syncing)
    now, before = frame.iloc[0], frame.iloc[1]
    _ = labels.gettext
    cards = []
    for key, label, column, kind, hint in CARDS:
        delta, direction = insights.change(now[column], before[column], kind, labels)
        shown = _show(now[column], kind, labels.money)
        cards.append(SalesCard(key, _(label), shown, delta, direction, _(hint)))
    compared = _("%(current)s vs %(previous)s") % {
        "current": labels.span(now["start"], now["last"]),
        "previous": labels.span(before["start"], before["last"]),
    }
    return Sales(days, cards, compared, synced, ago, state.syncing)


def _show(value: Any, kind: str, money: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    if kind == "money":
        return str(money(float(value)))
    if kind == "rate":
        return percent(float(value))
    return plain(float(value))
