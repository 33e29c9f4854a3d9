"""Message templates in the dashboard: the list, the editor (one variant per language) and a
preview rendered for a real member. Unknown variables are refused when the template is saved;
the error is shown beside the form and nothing is stored."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.engagement import library
from patron.engagement.models import MessageTemplate
from patron.engagement.templates import CHANNEL_FIELDS
from patron.i18n import N_
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("templates", N_("Templates"), "/templates", icon="note", order=55)]
LOCALES = ("en", "zh_Hans")
JSON_FIELDS = frozenset({"parameters", "data"})  # WhatsApp / WeChat take structured values
LONG_FIELDS = frozenset({"html", "text", "body"})


def _variants_from_form(channel: str, form: Any) -> dict[str, Any]:
    """One variant per language that has any field filled in."""
    if channel not in CHANNEL_FIELDS:
        raise InvalidInput(f"unknown channel {channel!r}", code="unknown_channel")
    variants: dict[str, Any] = {}
    for locale in LOCALES:
        values = {f: str(form.get(f"{locale}__{f}", "")) for f in CHANNEL_FIELDS[channel]}
        if not any(v.strip() for v in values.values()):
            continue
        for f in JSON_FIELDS & values.keys():
            try:
                values[f] = json.loads(values[f] or "null")
            except ValueError as exc:
                raise InvalidInput(
                    f"{locale}.{f}: not valid JSON", code="invalid_template"
                ) from exc
        variants[locale] = values
    if not variants:
        raise InvalidInput("fill in at least one language", code="invalid_template")
    return variants


def _shown(variants: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        locale: {
            f: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for f, v in fields.items()
        }
        for locale, fields in variants.items()
    }


def _editor(
    request: Request,
    template: MessageTemplate | None,
    name: str,
    channel: str,
    variants: dict[str, dict[str, str]],
    error: str | None = None,
    status: int = 200,
    preview: dict[str, Any] | None = None,
) -> Response:
    context = {
        "t": template,
        "name": name,
        "channel": channel,
        "variants": variants,
        "locales": LOCALES,
        "channel_fields": CHANNEL_FIELDS,
        "long_fields": LONG_FIELDS,
        "error": error,
        "preview": preview,
    }
    return render(request, "dashboard/engagement/template.html", context, status=status)


@router.get("/templates")
def template_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    rows = library.list_templates(session, staff.merchant_id)
    return render(request, "dashboard/engagement/templates.html", {"rows": rows})


@router.get("/templates/new")
def new_template(
    request: Request,
    staff: ManagerPageDep,
    channel: Annotated[str, Query(max_length=16)] = "email",
) -> Response:
    channel = channel if channel in CHANNEL_FIELDS else "email"
    return _editor(request, None, "", channel, {})


@router.get("/templates/{template_id}")
def edit_template(
    request: Request,
    template_id: int,
    session: SessionDep,
    settings: SettingsDep,
    staff: ManagerPageDep,
    member: Annotated[int | None, Query(ge=1)] = None,
    locale: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The editor; with ``?member=`` it also shows the template rendered for that member."""
    template = library.get_template(session, staff.merchant_id, template_id)
    preview: dict[str, Any] | None = None
    if member is not None:
        try:
            chosen, rendered = library.preview_template(
                session, settings, staff.merchant_id, template_id, member, {}, locale or None
            )
            preview = {"member": member, "locale": chosen, "rendered": rendered}
        except PatronError as exc:
            preview = {"member": member, "error": exc.message}
    shown = _shown(template.variants)
    return _editor(request, template, template.name, template.channel, shown, preview=preview)


@router.post("/templates/save")
async def save_template(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    """Create or change a template; a refusal (unknown variable, missing field) is shown inline."""
    form = await request.form()
    raw_id = str(form.get("template_id", ""))
    template = (
        library.get_template(session, staff.merchant_id, int(raw_id)) if raw_id.isdigit() else None
    )
    channel = template.channel if template else str(form.get("channel", ""))
    name = str(form.get("name", "")).strip()
    typed = {
        locale: {f: str(form.get(f"{locale}__{f}", "")) for f in CHANNEL_FIELDS.get(channel, ())}
        for locale in LOCALES
    }
    try:
        variants = _variants_from_form(channel, form)
        if template is None:
            template = library.create_template(session, staff.merchant_id, name, channel, variants)
        else:
            library.update_template(
                session, staff.merchant_id, template.id, name=name, variants=variants
            )
    except PatronError as exc:
        if isinstance(exc, NotFound):
            raise
        session.rollback()
        return _editor(request, template, name, channel, typed, error=exc.message, status=422)
    flash(request, translate(request, "Template saved."))
    return RedirectResponse(f"/templates/{template.id}", status_code=303)
