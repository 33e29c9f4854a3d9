"""Payments in the dashboard: members' top-ups paid through a provider, with their status
(everyone), on each member's page too, and each provider's settings in merchant words
(managers; secrets write-only, ADR 0861)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_
from patron.members.models import Member
from patron.payments import service
from patron.payments.providers import get_provider
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.dashboard.payment_forms import PAYMENT_FORMS
from patron.web.nav import NavItem, Panel
from patron.web.payment_words import PROVIDER_NAMES, STATUS_NAMES, STATUS_TONES
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem("payments", N_("Top-up payments"), "/payments", icon="stored_value", order=23),
    NavItem(
        "payment-settings",
        N_("Payment settings"),
        "/payment-settings",
        icon="shield",
        order=61,
        min_role=Role.MANAGER,
    ),
]
PAGE_SIZE = 50
PANEL_SIZE = 10
WORDS = {"provider_names": PROVIDER_NAMES, "status_names": STATUS_NAMES, "tones": STATUS_TONES}


def _member_payments(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    found = service.member_orders(session, merchant_id, member.id, PANEL_SIZE + 1)
    return {"payments": found[:PANEL_SIZE], "more_payments": len(found) > PANEL_SIZE, **WORDS}


MEMBER_PANELS = [Panel("payments", "dashboard/payments/_panel.html", _member_payments, order=35)]


@router.get("/payments")
def payments_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every top-up paid through a provider, newest first."""
    rows = service.merchant_orders(session, staff.merchant_id, PAGE_SIZE + 1, cursor)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    ids = {r.member_id for r in rows}
    names = (
        {
            m.id: m.display_name
            for m in session.scalars(
                select(Member).where(Member.merchant_id == staff.merchant_id, Member.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    context = {
        "rows": rows,
        "names": names,
        "next_cursor": rows[-1].id if more else None,
        "paged": cursor is not None,
        **WORDS,
    }
    return render(request, "dashboard/payments/list.html", context)


def _cards(session: Session, merchant_id: int, base_url: str) -> list[dict[str, Any]]:
    stored = {row.provider: row for row in service.list_settings(session, merchant_id)}
    cards = []
    for provider, fields in PAYMENT_FORMS.items():
        row = stored.get(provider)
        creds = row.credentials if row else {}
        cards.append(
            {
                "provider": provider,
                "name": PROVIDER_NAMES[provider],
                "enabled": bool(row and row.enabled),
                "configured": row is not None,
                "base_url": (row.base_url if row else None) or "",
                "notify_url": service.notify_url(base_url, provider, merchant_id),
                "currencies": sorted(get_provider(provider).currencies or []),
                "fields": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "help": f.help,
                        "secret": f.secret,
                        "is_set": f.key in creds,
                        # a secret is never sent back to the browser, not even masked
                        "value": "" if f.secret else str(creds.get(f.key) or ""),
                    }
                    for f in fields
                ],
            }
        )
    return cards


@router.get("/payment-settings")
def settings_page(
    request: Request, session: SessionDep, settings: SettingsDep, staff: ManagerPageDep
) -> Response:
    context = {"cards": _cards(session, staff.merchant_id, settings.base_url)}
    return render(request, "dashboard/payments/settings.html", context)


@router.post("/payment-settings/{provider}")
async def save_settings(
    request: Request, provider: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Replace one provider's settings (secrets left blank are kept; settings the form does
    not show, like ``timeout_seconds``, are kept)."""
    if provider not in PAYMENT_FORMS:
        raise NotFound("unknown payment provider", code="unknown_provider")
    form = await request.form()
    stored = {r.provider: r for r in service.list_settings(session, staff.merchant_id)}
    previous = stored[provider].credentials if provider in stored else {}
    shown = {f.key for f in PAYMENT_FORMS[provider]}
    creds: dict[str, Any] = {k: v for k, v in previous.items() if k not in shown}
    for f in PAYMENT_FORMS[provider]:
        raw = str(form.get(f"cred_{f.key}", "")).strip()
        if f.secret and not raw:
            if f.key in previous:
                creds[f.key] = previous[f.key]  # blank box: keep the stored secret
        elif raw:
            creds[f.key] = raw
    try:
        service.put_settings(
            session,
            staff.merchant_id,
            provider,
            enabled=form.get("enabled") == "on",
            base_url=str(form.get("base_url", "")).strip() or None,
            credentials=creds,
        )
        flash(request, translate(request, "Payment settings saved."))
    except PatronError as exc:
        session.rollback()
        flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")
    return RedirectResponse(f"/payment-settings#provider-{provider}", status_code=303)
