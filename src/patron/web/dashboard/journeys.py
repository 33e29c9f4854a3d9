"""Journeys in the dashboard: the library (switch on a ready-made journey), a journey's page
(trigger, steps with their statistics, enrolments), switch on/off, editing one step (a new
version through the service), a send step's preview for a real member, and the journey history
card on the member page.

Reading is open to every staff member; changes need the manager role (as the API).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.coupons import service as coupons
from patron.engagement import library as messages_library
from patron.engagement.channels import channel_names
from patron.engagement.journeys import service as journeys
from patron.engagement.journeys import stats as journey_stats
from patron.engagement.journeys.festivals import FESTIVALS
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.journeys.models import Journey
from patron.engagement.messages import KINDS
from patron.engagement.segments.service import list_segments
from patron.engagement.templates import LOCALES
from patron.i18n import N_
from patron.members import service as members
from patron.members.models import Member
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import journey_view as view
from patron.web.dashboard.campaign_view import member_names, topic_choices
from patron.web.dashboard.segments import reader_for
from patron.web.nav import NavItem, Panel
from patron.web.rendering import flash, render, resolve_locale, translate

router = APIRouter()
NAV = [NavItem("journeys", N_("Journeys"), "/journeys", icon="flow", order=45)]

ENROLMENTS_PER_PAGE = 25
# Preview values for what earlier steps or the trigger would give (a coupon, a product).
SAMPLE_CONTEXT = {
    "coupon": {"code": "SAMPLE-2026", "title": "10% off", "value": "10%", "expires_at": "—"},
    "product": {"name": "Wool coat", "sku": "COAT-1", "price": "599.00", "category": "Coats"},
}


def _tr(request: Request) -> view.Tr:
    def tr(message: str, **params: Any) -> str:
        return translate(request, message, **params)

    return tr


def _manager(staff: StaffContext) -> bool:
    return staff.role.rank >= Role.MANAGER.rank


@router.get("/journeys")
def journey_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """The merchant's journeys and the library of ready-made ones."""
    rows = journeys.list_journeys(session, staff.merchant_id)
    tr = _tr(request)
    names = view.names_for(session, staff.merchant_id, [])
    described = [
        (
            j,
            view.describe_trigger(
                journeys.current_version(session, j).trigger, tr, names["segments"]
            ),
        )
        for j in rows
    ]
    context = {
        "rows": described,
        "library": [(key, view.LIBRARY_TEXT[key], view.LIBRARY_FIELDS[key]) for key in LIBRARY],
        "used": {j.library_key for j in rows if j.library_key},
        "segments": list_segments(session, staff.merchant_id),
        "coupon_templates": coupons.list_templates(session, staff.merchant_id),
        "festivals": [(k, view.FESTIVAL_NAMES[k]) for k in view.FESTIVAL_NAMES if k in FESTIVALS],
        "can_manage": _manager(staff),
    }
    return render(request, "dashboard/journeys/list.html", context)


@router.post("/journeys/library/{key}")
async def switch_on_library(
    request: Request, key: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Create the ready-made journey with the merchant's choices and switch it on."""
    if key not in LIBRARY:
        raise NotFound("no such library journey", code="library_journey_not_found")
    form = {k: str(v) for k, v in (await request.form()).items()}
    name = translate(request, view.LIBRARY_TEXT[key][0])
    if key == "festival":
        festival = form.get("festival") or "mid_autumn"
        name = f"{name} · {translate(request, view.FESTIVAL_NAMES.get(festival, festival))}"
    try:
        params = view.library_params(key, form)
        journey = journeys.create_from_library(session, staff.merchant_id, key, params, name)
        journeys.switch(session, staff.merchant_id, journey.id, True)
    except PatronError as exc:
        session.rollback()
        flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")
        return RedirectResponse("/journeys", status_code=303)
    flash(request, translate(request, "Journey switched on."))
    return RedirectResponse(f"/journeys/{journey.id}", status_code=303)


def _enrolments(
    session: Session, staff: StaffContext, journey_id: int, cursor: int | None
) -> dict[str, Any]:
    rows = journeys.enrolments(
        session,
        staff.merchant_id,
        journey_id=journey_id,
        limit=ENROLMENTS_PER_PAGE,
        cursor=cursor,
    )
    more = len(rows) > ENROLMENTS_PER_PAGE
    rows = rows[:ENROLMENTS_PER_PAGE]
    return {
        "enrolments": rows,
        "enrolment_names": member_names(session, staff.merchant_id, [e.member_id for e in rows]),
        "enrolments_next": rows[-1].id if more and rows else None,
        "enrolments_paged": cursor is not None,
    }


@router.get("/journeys/{journey_id}")
def journey_detail(
    request: Request,
    journey_id: int,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Trigger, steps in order with their statistics, exit rule, enrolments."""
    journey = journeys.get_journey(session, staff.merchant_id, journey_id)
    version = journeys.current_version(session, journey)
    stats = journeys.step_stats(session, staff.merchant_id, journey_id)
    tr = _tr(request)
    names = view.names_for(session, staff.merchant_id, version.steps)
    locale = resolve_locale(request)
    steps = [
        (step, view.describe_step(step, tr, names, locale), view.step_stats(stats, step["id"]))
        for step in version.steps
    ]
    context: dict[str, Any] = {
        "j": journey,
        "trigger": view.describe_trigger(version.trigger, tr, names["segments"]),
        "exit_rule": view.describe_exit(version.exit_rule, tr),
        "steps": steps,
        "stats": stats,
        "message_counts": journey_stats.step_message_counts(session, staff.merchant_id, journey_id),
        "reach": journey_stats.step_reach(session, staff.merchant_id, journey_id),
        "step_kinds": view.STEP_KINDS,
        "can_manage": _manager(staff),
        "step_places": {
            step["id"]: tr(
                "Step %(n)s · %(kind)s", n=number, kind=tr(view.STEP_KINDS[step["type"]])
            )
            for number, step in enumerate(version.steps, start=1)
        },
    }
    context |= _enrolments(session, staff, journey_id, cursor)
    return render(request, "dashboard/journeys/detail.html", context)


@router.post("/journeys/{journey_id}/switch")
def switch_journey(
    request: Request,
    journey_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    on: Annotated[str, Form(max_length=5)],
) -> Response:
    journeys.switch(session, staff.merchant_id, journey_id, on == "true")
    done = N_("Journey switched on.") if on == "true" else N_("Journey switched off.")
    flash(request, translate(request, done))
    return RedirectResponse(f"/journeys/{journey_id}", status_code=303)


def _find_step(session: Session, journey: Journey, step_id: str) -> dict[str, Any]:
    for step in journeys.current_version(session, journey).steps:
        if step["id"] == step_id:
            return step
    raise NotFound("no such step", code="journey_step_not_found")


def _preview(
    session: Session, settings: Any, staff: StaffContext, step: dict[str, Any], who: str
) -> dict[str, Any]:
    """The send step rendered for the member found by ``who`` (id, phone, email or name)."""
    if step["type"] != "send" or not who.strip():
        return {}
    found: list[Member] = []
    if who.strip().isdigit():
        member = session.get(Member, int(who))
        found = [member] if member and member.merchant_id == staff.merchant_id else []
    found = found or members.search_members(session, staff.merchant_id, q=who.strip(), limit=1)
    if not found:
        return {"preview_error": N_("No member matches this search.")}
    member = found[0]
    try:
        if step.get("template_id") is not None:
            locale, rendered = messages_library.preview_template(
                session,
                settings,
                staff.merchant_id,
                int(step["template_id"]),
                member.id,
                SAMPLE_CONTEXT,
                None,
            )
        else:
            locale, rendered = messages_library.preview_variants(
                session,
                settings,
                staff.merchant_id,
                str(step["channel"]),
                step.get("content") or {},
                member.id,
                SAMPLE_CONTEXT,
                None,
            )
    except PatronError as exc:
        return {"preview_member": member, "preview_failed": exc.message}
    return {"preview_member": member, "preview_locale": locale, "preview": rendered}


def _step_page(
    request: Request,
    session: Session,
    staff: StaffContext,
    journey: Journey,
    step: dict[str, Any],
    values: dict[str, Any],
    error: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    version = journeys.current_version(session, journey)
    tr = _tr(request)
    names = view.names_for(session, staff.merchant_id, version.steps)
    places = view.step_places(version.steps, tr, names, resolve_locale(request))
    context: dict[str, Any] = {
        "j": journey,
        "step": step,
        "step_label": tr("Step %(n)s", n=names["steps"].get(step["id"], "—")),
        "condition": view.describe_condition(
            step.get("if"),
            tr,
            reader_for(request, session, staff) if step["type"] == "branch" else None,
        ),
        "values": values,
        "error": error,
        "step_places": places,
        "templates": messages_library.list_templates(session, staff.merchant_id),
        "coupon_templates": coupons.list_templates(session, staff.merchant_id),
        "channels": channel_names(),
        "kinds": sorted(KINDS),
        "topic_choices": topic_choices(session, staff.merchant_id, resolve_locale(request)),
        "locales": LOCALES,
        "content_fields": view.content_fields(str(values.get("channel", ""))),
        "step_kinds": view.STEP_KINDS,
        "who": "",
    }
    context |= extra or {}
    return render(request, "dashboard/journeys/step.html", context, status=422 if error else 200)


def _values(step: dict[str, Any]) -> dict[str, Any]:
    """The step as form values (flattening inline content to ``locale.field``)."""
    values: dict[str, Any] = {k: v for k, v in step.items() if k != "content"}
    for locale, variant in (step.get("content") or {}).items():
        for field, text in variant.items():
            values[f"{locale}.{field}"] = text
    return values


@router.get("/journeys/{journey_id}/steps/{step_id}")
def step_page(
    request: Request,
    journey_id: int,
    step_id: str,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    who: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """One step: its form (managers) and, for a send step, a preview for a real member."""
    journey = journeys.get_journey(session, staff.merchant_id, journey_id)
    step = _find_step(session, journey, step_id)
    extra = _preview(session, settings, staff, step, who) | {"who": who}
    return _step_page(request, session, staff, journey, step, _values(step), extra=extra)


@router.post("/journeys/{journey_id}/steps/{step_id}")
async def save_step(
    request: Request, journey_id: int, step_id: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Save the edited step as a new version; a refusal is shown and nothing changes."""
    journey = journeys.get_journey(session, staff.merchant_id, journey_id)
    step = _find_step(session, journey, step_id)
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    steps = journeys.current_version(session, journey).steps
    try:
        edited = view.parse_step(step, form)
        new_steps = [edited if s["id"] == step_id else s for s in steps]
        journeys.update_journey(session, staff.merchant_id, journey_id, {"steps": new_steps})
    except PatronError as exc:
        session.rollback()
        journey = journeys.get_journey(session, staff.merchant_id, journey_id)
        values = {**_values(step), **form}
        return _step_page(request, session, staff, journey, step, values, exc.message)
    flash(request, translate(request, "Saved as version %(n)s.", n=journey.version))
    return RedirectResponse(f"/journeys/{journey_id}#step-{step_id}", status_code=303)


def _member_journeys(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    rows = journeys.enrolments(session, merchant_id, member_id=member.id, limit=10)[:10]
    ids = {e.journey_id for e in rows}
    found = session.scalars(
        select(Journey).where(Journey.merchant_id == merchant_id, Journey.id.in_(ids))
    ).all()
    steps = {j.id: journeys.current_version(session, j).steps for j in found}
    return {
        "enrolments": rows,
        "journey_names": {j.id: j.name for j in found},
        "step_numbers": {
            jid: {step["id"]: n for n, step in enumerate(found_steps, start=1)}
            for jid, found_steps in steps.items()
        },
    }


MEMBER_PANELS = [Panel("journeys", "dashboard/journeys/_panel.html", _member_journeys, order=60)]
