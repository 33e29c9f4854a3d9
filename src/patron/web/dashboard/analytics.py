"""Analytics in the dashboard: KPI cards, charts (inline SVG) and a CSV per chart.

The numbers come from :func:`patron.analytics.insights.build_insights` over the DuckDB analytics
copy, synced first when it is older than ``PATRON_ANALYTICS_MAX_AGE_MINUTES`` (or on the
"Refresh now" button).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.deferred import deferred_module
from patron.core.errors import NotFound
from patron.core.http import SessionDep, SettingsDep
from patron.tenancy.models import Role, Store
from patron.web.auth import ManagerPageDep, StaffContext
from patron.web.i18n import N_, Formatter, translations_for
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, resolve_locale, translate

if TYPE_CHECKING:
    from patron.analytics import facts, insights
    from patron.analytics import store as analytics_store
    from patron.analytics.facts import Filters, Period
    from patron.analytics.insights import Insights, Labels
else:
    # The analytics engine (pandas, Ibis, DuckDB) loads with the first analytics request, not
    # with every `patron serve` process (ADR 0010).
    facts = deferred_module("patron.analytics.facts")
    insights = deferred_module("patron.analytics.insights")
    analytics_store = deferred_module("patron.analytics.store")

router = APIRouter()
NAV = [
    NavItem(
        "analytics", N_("Analytics"), "/analytics", icon="chart", order=30, min_role=Role.MANAGER
    )
]
PERIODS: tuple[Period, ...] = ("month", "week")
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class View:
    """The page's filters, checked: the window is [start, end) in the merchant's dates."""

    period: Period
    start: date
    end: date
    store: int | None
    channel: str

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def query(self) -> str:
        parts = [f"period={self.period}", f"from={self.start}", f"to={self.last}"]
        if self.store:
            parts.append(f"store={self.store}")
        if self.channel:
            parts.append(f"channel={self.channel}")
        return "&".join(parts)

    def filters(self) -> Filters:
        return facts.Filters(
            stores=[self.store] if self.store else [],
            channels=[self.channel] if self.channel else [],
        )


def merchant_today(session: Session, timezone: str) -> date:
    return utcnow(session).astimezone(ZoneInfo(timezone)).date()


def parse_view(
    session: Session,
    staff: StaffContext,
    period: str,
    start: str,
    to: str,
    store: str,
    channel: str,
) -> View:
    """Filters from the query string; bad values fall back to the defaults (last 12 months)."""
    today = merchant_today(session, staff.merchant.timezone)
    last = _date(to) or today
    first = _date(start)
    if first is None or first > last or (last - first).days > MAX_DAYS:
        index = last.year * 12 + last.month - 1 - 11  # the 12 months up to ``last``
        first = date(index // 12, index % 12 + 1, 1)
    store_id = int(store) if store.isdigit() else None
    if store_id is not None and _store(session, staff.merchant_id, store_id) is None:
        raise NotFound("no such store", code="store_not_found")
    p: Period = "week" if period == "week" else "month"
    return View(
        p,
        first,
        last + timedelta(days=1),
        store_id,
        channel if channel in _channels(session, staff.merchant_id) else "",
    )


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _store(session: Session, merchant_id: int, store_id: int) -> Store | None:
    store = session.get(Store, store_id)
    return store if store is not None and store.merchant_id == merchant_id else None


def _stores(session: Session, merchant_id: int) -> list[Store]:
    return list(
        session.scalars(select(Store).where(Store.merchant_id == merchant_id).order_by(Store.name))
    )


def _channels(session: Session, merchant_id: int) -> list[str]:
    return sorted({s.channel for s in _stores(session, merchant_id)})


def labels_for(locale: str, currency: str) -> Labels:
    """Words in the reader's language, money in the merchant's currency."""
    fmt = Formatter(locale, currency)
    babel_locale = fmt.locale

    def period(d: date, p: Period) -> str:
        skeleton = "yMMM" if p == "month" else "MMMd"
        return str(format_skeleton(skeleton, d, locale=babel_locale))

    return insights.Labels(
        gettext=translations_for(locale).gettext,
        money=lambda minor: fmt.money(round(minor)),
        period=period,
    )


def _insights(
    request: Request, session: Session, staff: StaffContext, view: View, settings: Settings
) -> tuple[Insights, datetime | None]:
    labels = labels_for(resolve_locale(request), staff.merchant.currency)
    engine = request.app.state.engine
    force = bool(request.scope["session"].pop("analytics_sync", False))
    with analytics_store.open_copy(
        settings.analytics_path, engine, settings.analytics_max_age_minutes, force_sync=force
    ) as copy:
        found = insights.build_insights(
            copy.con,
            staff.merchant_id,
            view.start,
            view.end,
            view.period,
            view.filters(),
            labels,
            session,
        )
        synced = copy.synced_at.replace(tzinfo=UTC) if copy.synced_at else None
        return found, synced


Q = Annotated[str, Query(max_length=40)]


@router.get("/analytics")
def analytics_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: ManagerPageDep,
    period: Q = "month",
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    store: Q = "",
    channel: Q = "",
) -> Response:
    """KPI cards and every chart for the chosen window, store and channel."""
    view = parse_view(session, staff, period, start, to, store, channel)
    found, synced_at = _insights(request, session, staff, view, settings)
    context = {
        "view": view,
        "insights": found,
        "synced_at": synced_at,
        "stores": _stores(session, staff.merchant_id),
        "channels": _channels(session, staff.merchant_id),
        "periods": PERIODS,
    }
    return render(request, "dashboard/analytics/page.html", context)


@router.get("/analytics/{figure}.csv")
def analytics_csv(
    request: Request,
    figure: str,
    session: SessionDep,
    settings: SettingsDep,
    staff: ManagerPageDep,
    period: Q = "month",
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    store: Q = "",
    channel: Q = "",
) -> Response:
    """The rows behind one chart, for a spreadsheet."""
    view = parse_view(session, staff, period, start, to, store, channel)
    found, _synced = _insights(request, session, staff, view, settings)
    chosen = found.figure(figure)
    if chosen is None:
        raise NotFound("no such chart", code="figure_not_found")
    name = f"{figure}_{view.start}_{view.last}.csv"
    return Response(
        insights.csv_of(chosen),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/analytics/sync")
def analytics_sync(
    request: Request,
    staff: ManagerPageDep,
    next: Annotated[str, Form(max_length=500)] = "/analytics",
) -> Response:
    """Bring the analytics copy up to date: the next page view syncs first.

    Not here: this POST holds the database's write lock (SQLite), which the sync's own reads
    would wait for."""
    request.scope["session"]["analytics_sync"] = True
    flash(request, translate(request, "Figures brought up to date."))
    target = next if next.startswith("/analytics") else "/analytics"
    return RedirectResponse(target, status_code=303)
