"""Segments in the dashboard: the list, the builder with a live count, a segment's members.

The builder edits a flat rule group — ``{"all": [...]}`` or ``{"any": [...]}`` of field rules —
in merchant words: each field has a label, conditions that fit its value, and an input of the
value's type (money in major units, a date, a choice from the merchant's lists; ADR 0610).
Segments with deeper rules (made through the API) are shown read-only, in words. The live count
is ``segments.service.preview`` behind a same-origin endpoint that static/js/segment-builder.js
posts the form to with the CSRF header; the "Count" button does the same through a plain form
post, so the page works without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any

from babel.numbers import get_currency_symbol
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep
from patron.core.member_fields import FIELDS
from patron.engagement.segments import service as segments
from patron.engagement.segments.models import Segment
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import segment_form as form_rows
from patron.web.dashboard.program_forms import exponent
from patron.web.dashboard.segment_choices import Choices, load_choices
from patron.web.dashboard.segment_form import Row, RowError
from patron.web.dashboard.segment_text import Reader, describe
from patron.web.dashboard.segment_words import FIELD_WORDS, GROUPS, op_words, words_for
from patron.web.nav import NavItem
from patron.web.rendering import flash, formatter_for, render, translate

router = APIRouter()
NAV = [NavItem("segments", N_("Segments"), "/segments", icon="filter", order=30)]
MEMBERS_PER_PAGE = 25


def _tr(request: Request) -> Any:
    def tr(message: str, **params: Any) -> str:
        return translate(request, message, **params)

    return tr


def _field_view(
    request: Request, name: str, choices: Choices, extra_op: str = ""
) -> dict[str, Any]:
    """What the page needs to show one field: its words, conditions and value list."""
    words = words_for(name)
    ops = list(words.ops)
    spec = FIELDS.get(name)
    if extra_op and extra_op not in ops and spec is not None and extra_op in spec.ops:
        ops.append(extra_op)  # a condition the API allows and a stored rule uses: keep it
    return {
        "name": name,
        "label": translate(request, words.label),
        "help": translate(request, words.help) if words.help else "",
        "group": words.group,
        "widget": words.widget,
        "ops": [(op, translate(request, op_words(words.words, op)[0])) for op in ops],
        "choices": choices.get(words.choices, []),
        "list": words.choices,
    }


def _builder_fields(request: Request, choices: Choices) -> list[tuple[str, list[dict[str, Any]]]]:
    """The fields the builder offers, grouped (fields registered without words are left out)."""
    views = [_field_view(request, n, choices) for n in FIELD_WORDS if n in FIELDS]
    return [
        (translate(request, group), [v for v in views if v["group"] == group]) for group in GROUPS
    ]


def _digits(staff: StaffContext) -> int:
    return exponent(staff.merchant.currency)


def _rows_shown(request: Request, rows: list[Row], choices: Choices) -> list[dict[str, Any]]:
    shown = []
    for row in rows or [Row()]:
        view = _field_view(request, row.field, choices, row.op) if row.field in FIELDS else None
        op = row.op or (view["ops"][0][0] if view and view["ops"] else "")
        shown.append(
            {"row": Row(row.field, op, row.values, row.high, row.days, row.part), "f": view}
        )
    return shown


def _builder(
    request: Request,
    session: Session,
    staff: StaffContext,
    *,
    segment: Segment | None,
    name: str,
    description: str,
    join: str,
    rows: list[Row],
    count: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    fmt = formatter_for(request)
    choices = load_choices(session, staff.merchant_id, _tr(request), fmt)
    context = {
        "currency_symbol": get_currency_symbol(staff.merchant.currency, locale=fmt.locale),
        "segment": segment,
        "name": name,
        "description": description,
        "join": join,
        "rows": _rows_shown(request, rows, choices),
        "groups": _builder_fields(request, choices),
        "choices": choices,
        "count": count,
        "error": error,
    }
    return render(request, "dashboard/segments/builder.html", context, status=status)


def _refusal(request: Request, exc: RowError) -> str:
    reason = translate(request, exc.reason)
    if exc.number:
        return translate(request, "Rule %(n)s: %(reason)s", n=exc.number, reason=reason)
    return reason


@router.get("/segments")
def segment_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Every active segment with its size, whether it depends on time, and when it was counted."""
    rows = segments.list_segments(session, staff.merchant_id)
    return render(request, "dashboard/segments/list.html", {"rows": rows})


@router.get("/segments/new")
def new_segment(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    return _builder(
        request, session, staff, segment=None, name="", description="", join="all", rows=[]
    )


def _rules_of(request: Request, staff: StaffContext, join: str, rows: list[Row]) -> dict[str, Any]:
    """The rule document of the posted rows; a row that cannot be read is a 422 in words."""
    try:
        return form_rows.rules_of(join, rows, _digits(staff))
    except RowError as exc:
        raise InvalidInput(_refusal(request, exc), code="invalid_segment_rule") from exc


@router.post("/segments/preview")
async def live_count(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """The live count of the builder's form as it stands (the form in, JSON out; nothing is
    stored)."""
    form = await request.form()
    try:
        rules = _rules_of(
            request, staff, str(form.get("join", "all")), form_rows.rows_from_form(form)
        )
        found = segments.preview(session, staff.merchant_id, rules, sample=0)
    except PatronError as exc:
        return JSONResponse({"error": exc.message}, status_code=422)
    return JSONResponse({"count": found["count"], "time_relative": found["time_relative"]})


@router.post("/segments/save")
async def save_segment(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    """ "Count", "Add rule" and "Save" of the builder without JavaScript; errors are shown inline
    and nothing is stored unless every rule compiles."""
    form = await request.form()
    segment_id = str(form.get("segment_id", "")).strip()
    segment = (
        segments.get_segment(session, staff.merchant_id, int(segment_id))
        if segment_id.isdigit()
        else None
    )
    rows = form_rows.rows_from_form(form)
    keep: dict[str, Any] = {
        "segment": segment,
        "name": str(form.get("name", ""))[:120],
        "description": str(form.get("description", ""))[:2000],
        "join": str(form.get("join", "all")),
    }
    action = str(form.get("action", "save"))
    if action == "add":
        return _builder(request, session, staff, rows=[*rows, Row()], **keep)
    try:
        rules = _rules_of(request, staff, keep["join"], rows)
        if action == "count":
            count = segments.preview(session, staff.merchant_id, rules, sample=0)["count"]
            return _builder(request, session, staff, rows=rows, count=count, **keep)
        saved = _store(
            session, staff.merchant_id, segment, keep["name"], keep["description"], rules
        )
    except PatronError as exc:
        if isinstance(exc, NotFound):
            raise
        session.rollback()
        return _builder(request, session, staff, rows=rows, error=exc.message, status=422, **keep)
    flash(request, translate(request, "Segment saved."))
    return RedirectResponse(f"/segments/{saved.id}", status_code=303)


def _store(
    session: Any,
    merchant_id: int,
    segment: Segment | None,
    name: str,
    description: str,
    rules: dict[str, Any],
) -> Segment:
    if not name.strip():
        raise InvalidInput("a segment needs a name", code="invalid_segment_name")
    if segment is None:
        return segments.create_segment(session, merchant_id, name, rules, description or None)
    return segments.update_segment(
        session, merchant_id, segment.id, name=name, rules=rules, description=description
    )


def reader_for(request: Request, session: Session, staff: StaffContext) -> Reader:
    """Who reads rules in words on this request (also used by the journey pages)."""
    named = session.execute(
        select(Segment.id, Segment.name).where(Segment.merchant_id == staff.merchant_id)
    )
    return Reader(
        _tr(request),
        formatter_for(request),
        load_choices(session, staff.merchant_id, _tr(request), formatter_for(request)),
        {int(i): str(n) for i, n in named},
    )


@router.get("/segments/{segment_id}")
def segment_detail(
    request: Request,
    segment_id: int,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """A segment's rules in words and its members (newest first, paged)."""
    segment = segments.get_segment(session, staff.merchant_id, segment_id)
    found = segments.segment_members(
        session, staff.merchant_id, segment_id, limit=MEMBERS_PER_PAGE, cursor=cursor
    )
    more = len(found) > MEMBERS_PER_PAGE
    found = found[:MEMBERS_PER_PAGE]
    context = {
        "s": segment,
        "rows": found,
        "said": describe(segment.rules, reader_for(request, session, staff)),
        "editable": form_rows.rows_of(segment.rules, _digits(staff)) is not None,
        "next_cursor": found[-1].id if more and found else None,
        "paged": cursor is not None,
        "can_edit": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/segments/detail.html", context)


@router.get("/segments/{segment_id}/edit")
def edit_segment(
    request: Request, segment_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    segment = segments.get_segment(session, staff.merchant_id, segment_id)
    flat = form_rows.rows_of(segment.rules, _digits(staff))
    if flat is None:
        flash(request, translate(request, "These rules are too deep for the builder."), "error")
        return RedirectResponse(f"/segments/{segment.id}", status_code=303)
    return _builder(
        request,
        session,
        staff,
        segment=segment,
        name=segment.name,
        description=segment.description or "",
        join=flat[0],
        rows=flat[1],
    )


@router.post("/segments/{segment_id}/refresh")
def refresh_segment(
    request: Request, segment_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Count the segment again now (time-relative rules move on with the clock)."""
    segment = segments.get_segment(session, staff.merchant_id, segment_id)
    segments.refresh(session, segment, announce=True)
    flash(request, translate(request, "Segment refreshed."))
    return RedirectResponse(f"/segments/{segment.id}", status_code=303)
