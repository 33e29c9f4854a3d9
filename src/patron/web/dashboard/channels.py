"""Message settings in the dashboard: each channel's settings in merchant words (labels and
help from ``channel_forms``), quiet hours and the frequency cap (managers only). Secrets are
write-only: the page says "set", never the value, and a blank secret box keeps the stored one.
The in-app inbox needs no settings and is shown as ready."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep
from patron.engagement import library, policy
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep
from patron.web.dashboard.channel_forms import CHANNEL_FORMS, NO_SETUP
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem(
        "message-settings",
        N_("Message settings"),
        "/message-settings",
        icon="shield",
        order=60,
        min_role=Role.MANAGER,
    )
]


def _channel_cards(session: Any, merchant_id: int) -> list[dict[str, Any]]:
    stored = {row.channel: row for row in library.list_channel_settings(session, merchant_id)}
    cards = []
    for channel, fields in CHANNEL_FORMS.items():
        row = stored.get(channel)
        creds = row.credentials if row else {}
        cards.append(
            {
                "channel": channel,
                "enabled": bool(row and row.enabled),
                "configured": row is not None,
                "ready": channel in NO_SETUP,
                "base_url": (row.base_url if row else None) or "",
                "fields": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "help": f.help,
                        "secret": f.secret,
                        "kind": f.kind,
                        "is_set": f.key in creds,
                        # a secret is never sent back to the browser, not even masked
                        "value": "" if f.secret else _shown(creds.get(f.key)),
                    }
                    for f in fields
                ],
            }
        )
    return cards


def _shown(value: Any) -> Any:
    return "" if value is None else value


@router.get("/message-settings")
def settings_page(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    current = policy.policy_for(session, staff.merchant_id)
    context = {
        "cards": _channel_cards(session, staff.merchant_id),
        "policy": {
            "cap_messages": current.cap_messages,
            "cap_window_days": current.cap_window_days,
            "care_cap_messages": current.care_cap_messages,
            "quiet_hours_enabled": current.quiet_hours_enabled,
            "quiet_start": current.quiet_start.strftime("%H:%M"),
            "quiet_end": current.quiet_end.strftime("%H:%M"),
        },
    }
    return render(request, "dashboard/engagement/settings.html", context)


def _credentials(
    request: Request, channel: str, form: Any, previous: dict[str, Any]
) -> dict[str, Any]:
    """The form's settings over the stored ones: settings the form does not show (set through
    the API, e.g. ``timeout_seconds``) are kept; a blank secret keeps the stored secret."""
    shown = {f.key for f in CHANNEL_FORMS[channel]}
    creds: dict[str, Any] = {k: v for k, v in previous.items() if k not in shown}
    for f in CHANNEL_FORMS[channel]:
        raw = str(form.get(f"cred_{f.key}", "")).strip()
        if f.kind == "flag":
            creds[f.key] = raw == "on"
        elif f.secret and not raw:
            if f.key in previous:
                creds[f.key] = previous[f.key]  # blank box: keep the stored secret
        elif raw and f.kind == "number":
            if not raw.isdigit():
                label = translate(request, f.label)
                raise InvalidInput(
                    translate(request, "%(setting)s: enter a whole number.", setting=label),
                    code="invalid_credentials",
                )
            creds[f.key] = int(raw)
        elif raw:
            creds[f.key] = raw
    return creds


@router.post("/message-settings/channels/{channel}")
async def save_channel(
    request: Request, channel: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Replace one channel's settings (secrets left blank are kept)."""
    if channel not in CHANNEL_FORMS:
        raise NotFound("unknown channel", code="unknown_channel")
    form = await request.form()
    stored = {r.channel: r for r in library.list_channel_settings(session, staff.merchant_id)}
    previous = stored[channel].credentials if channel in stored else {}
    try:
        library.put_channel_setting(
            session,
            staff.merchant_id,
            channel,
            enabled=form.get("enabled") == "on",
            base_url=str(form.get("base_url", "")).strip() or None,
            credentials=_credentials(request, channel, form, previous),
        )
        flash(request, translate(request, "Channel settings saved."))
    except PatronError as exc:
        session.rollback()
        flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")
    return RedirectResponse(f"/message-settings#channel-{channel}", status_code=303)


@router.post("/message-settings/policy")
def save_policy(
    request: Request,
    session: SessionDep,
    staff: ManagerPageDep,
    cap_messages: Annotated[int, Form(ge=0, le=1000)],
    cap_window_days: Annotated[int, Form(ge=1, le=365)],
    quiet_start: Annotated[str, Form(max_length=5)],
    quiet_end: Annotated[str, Form(max_length=5)],
    quiet_hours_enabled: Annotated[str, Form(max_length=3)] = "",
    care_cap_messages: Annotated[int, Form(ge=0, le=1000)] = 2,
) -> Response:
    """Quiet hours and the marketing and care caps (from the next dispatch round)."""
    try:
        policy.set_policy(
            session,
            staff.merchant_id,
            cap_messages=cap_messages,
            cap_window_days=cap_window_days,
            quiet_hours_enabled=quiet_hours_enabled == "on",
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            care_cap_messages=care_cap_messages,
        )
        flash(request, translate(request, "Quiet hours and caps saved."))
    except PatronError as exc:
        session.rollback()
        flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")
    return RedirectResponse("/message-settings#policy", status_code=303)
