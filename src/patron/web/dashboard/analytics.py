"""Analytics in the dashboard: KPI cards, charts (inline SVG) and a CSV per chart.

The numbers come from :mod:`patron.analytics.insights` over the DuckDB analytics copy, computed
once per view and version of the copy (:mod:`patron.analytics.page_cache`). A copy older than
``PATRON_ANALYTICS_MAX_AGE_MINUTES`` (or the "Refresh now" button) starts a sync in the
background; the page answers at once from the copy it has and says how fresh it is (ADR 0506).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.analytics.labels import labels_for
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.deferred import deferred_module
from patron.core.errors import Conflict, NotFound
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_, Formatter
from patron.tenancy.models import Role, Store
from patron.web.auth import ManagerPageDep, StaffContext
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, resolve_locale, translate

if TYPE_CHECKING:
    import duckdb
    from ibis.common import exceptions as ibis_errors

    from patron.analytics import facts, insights, page_cache
    from patron.analytics import store as analytics_store
    from patron.analytics.facts import Filters, Period
    from patron.analytics.insights import PageData
    from patron.analytics.store import CopyState
else:
    # The analytics engine (pandas, Ibis, DuckDB) loads with the first analytics request, not
    # with every `patron serve` process (ADR 0010).
    duckdb = deferred_module("duckdb")
    ibis_errors = deferred_module("ibis.common.exceptions")
    facts = deferred_module("patron.analytics.facts")
    insights = deferred_module("patron.analytics.insights")
    page_cache = deferred_module("patron.analytics.page_cache")
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


def freshness(state: CopyState, locale: str) -> str:
    """ "3 minutes ago", in the reader's language ("" when never synced)."""
    if state.synced_at is None:
        return ""
    ago = state.synced_at - datetime.now(UTC).replace(tzinfo=None)
    language = Formatter(locale).locale
    return str(format_timedelta(ago, add_direction=True, locale=language, threshold=1.1))


def copy_for_page(request: Request, settings: Settings) -> CopyState:
    """The copy's state; a stale copy starts a sync in the background (the page does not wait).

    Raises :class:`Conflict` when another process holds the file (``patron analytics sync``)."""
    path = settings.analytics_path
    try:
        state = analytics_store.copy_state(path)
    except duckdb.Error:
        raise Conflict(
            "the figures are being updated by another program; try again in a moment",
            code="analytics_busy",
        ) from None
    if not state.syncing and state.stale(settings.analytics_max_age_minutes):
        state = sync_behind(request, settings, state)
    return state


def sync_behind(request: Request, settings: Settings, state: CopyState) -> CopyState:
    """Start a background sync of the copy (unless one runs); the state the page shows."""
    engine = request.app.state.engine
    path = settings.analytics_path
    analytics_store.start_sync(engine, path, page_cache.after_sync(engine, path))
    return analytics_store.CopyState(state.synced_at, True)


def view_data(
    session: Session, staff: StaffContext, view: View, settings: Settings, state: CopyState
) -> PageData | None:
    """The view's figures (cached per version of the copy); None before the first sync."""
    if state.synced_at is None:
        return None
    key = page_cache.PageView(
        settings.analytics_path,
        staff.merchant_id,
        view.start,
        view.end,
        view.period,
        (view.store,) if view.store else (),
        (view.channel,) if view.channel else (),
    )
    try:
        data: PageData = page_cache.remember(key, state.synced_at, session)
    except duckdb.IOException:
        raise Conflict(
            "the figures are being updated by another program; try again in a moment",
            code="analytics_busy",
        ) from None
    except ibis_errors.TableNotFound:
        # A copy from an older Patron lacks a table this one reads: the running (or next)
        # sync adds it; until then the page says the figures are being prepared.
        return None
    return data


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
    state = copy_for_page(request, settings)
    data = view_data(session, staff, view, settings, state)
    if data is None and state.synced_at is not None and not state.syncing:
        state = sync_behind(request, settings, state)  # a table is missing: bring it in
    locale = resolve_locale(request)
    labels = labels_for(locale, staff.merchant.currency)
    context = {
        "view": view,
        "insights": insights.present(data, labels) if data is not None else None,
        "synced_at": state.synced_at.replace(tzinfo=UTC) if state.synced_at else None,
        "synced_ago": freshness(state, locale),
        "syncing": state.syncing,
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
    """The rows behind one chart, for a spreadsheet: the same cached figures as the page."""
    view = parse_view(session, staff, period, start, to, store, channel)
    state = copy_for_page(request, settings)
    data = view_data(session, staff, view, settings, state)
    if data is None:
        raise Conflict("the figures are being prepared; try again in a moment", code="preparing")
    labels = labels_for(resolve_locale(request), staff.merchant.currency)
    chosen = insights.present(data, labels).figure(figure)
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
    settings: SettingsDep,
    staff: ManagerPageDep,
    next: Annotated[str, Form(max_length=500)] = "/analytics",
) -> Response:
    """Bring the analytics copy up to date, in the background (the sync only reads the
    database, so it does not wait for this request's transaction)."""
    del staff
    engine = request.app.state.engine
    path = settings.analytics_path
    analytics_store.start_sync(engine, path, page_cache.after_sync(engine, path))
    flash(request, translate(request, "Bringing the figures up to date in the background."))
    target = next if next.startswith("/analytics") else "/analytics"
    return RedirectResponse(target, status_code=303)
