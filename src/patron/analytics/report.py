"""``patron report``: the analytics pages as one self-contained HTML file, for sharing.

The file carries its CSS inline and its charts as inline SVG: it opens from an e-mail
attachment or a USB stick with no network and fetches nothing (no fonts, no scripts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.analytics.facts import Filters, Period
from patron.analytics.insights import Insights, build_insights
from patron.analytics.labels import labels_for
from patron.analytics.store import open_copy
from patron.core.config import Settings, get_settings
from patron.core.db import make_engine, make_session_factory
from patron.i18n import LANGUAGES, Formatter, normalise_locale
from patron.i18n.templates import STATIC_DIR, environment
from patron.tenancy.models import Merchant

err = Console(stderr=True)


def render_report(insights: Insights, merchant: Merchant, locale: str, generated: datetime) -> str:
    """The report's HTML (pure: no I/O besides reading the stylesheet)."""
    css = "\n".join(
        (STATIC_DIR / "css" / name).read_text(encoding="utf-8")
        for name in ("patron.css", "analytics.css")
    )
    template = environment(locale).get_template("report.html")
    return template.render(
        insights=insights,
        merchant=merchant,
        fmt=Formatter(locale, merchant.currency, merchant.timezone),
        lang=LANGUAGES[locale],
        css=css,
        generated=generated,
        last_day=insights.scope.end - timedelta(days=1),
    )


def _merchant(session: Session, slug: str | None) -> Merchant:
    if slug:
        found = session.scalar(select(Merchant).where(Merchant.slug == slug))
        if found is None:
            raise ValueError(f"no merchant with slug {slug!r}")
        return found
    merchants = list(session.scalars(select(Merchant).order_by(Merchant.id).limit(2)))
    if len(merchants) != 1:
        raise ValueError("several merchants (or none): name one with --merchant SLUG")
    return merchants[0]


def _window(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else None
    except ValueError:
        raise ValueError("dates are YYYY-MM-DD") from None
    if first is None:
        index = last.year * 12 + last.month - 1 - 11
        first = date(index // 12, index % 12 + 1, 1)
    if first > last:
        raise ValueError("--from must not be after --to")
    return first, last + timedelta(days=1)


def write_report(
    settings: Settings,
    out: Path,
    slug: str | None = None,
    start: str | None = None,
    end: str | None = None,
    period: Period = "month",
    locale: str | None = None,
) -> Insights:
    """Sync the copy if stale, compute, and write the report to ``out``."""
    engine = make_engine(settings.database_url)
    with make_session_factory(engine, read_only=True)() as session:
        merchant = _merchant(session, slug)
        code = normalise_locale(locale or merchant.locale) or "en"
        today = datetime.now(UTC).astimezone(ZoneInfo(merchant.timezone)).date()
        first, after = _window(start, end, today)
        labels = labels_for(code, merchant.currency)
        with open_copy(settings.analytics_path, engine, settings.analytics_max_age_minutes) as copy:
            found = build_insights(
                copy.con, merchant.id, first, after, period, Filters(), labels, session
            )
        html = render_report(found, merchant, code, datetime.now(UTC))
    out.write_text(html, encoding="utf-8")
    return found


def report(
    out: Path = typer.Option(..., "--out", help="HTML file to write"),
    merchant: str | None = typer.Option(None, "--merchant", help="merchant slug"),
    start: str | None = typer.Option(None, "--from", help="first day, YYYY-MM-DD"),
    end: str | None = typer.Option(None, "--to", help="last day, YYYY-MM-DD"),
    period: str = typer.Option("month", "--period", help="month or week"),
    locale: str | None = typer.Option(None, "--locale", help="en or zh_Hans"),
) -> None:
    """Write a self-contained HTML report of the analytics figures."""
    if period not in ("month", "week"):
        err.print("[red]error:[/red] --period must be month or week")
        raise typer.Exit(1)
    try:
        write_report(get_settings(), out, merchant, start, end, period, locale)  # type: ignore[arg-type]
    except (ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    Console().print(f"report written to {out}")
