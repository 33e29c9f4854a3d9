"""Segments in the dashboard: the list, the builder with a live count, a segment's members.

The builder edits a flat rule group — ``{"all": [...]}`` or ``{"any": [...]}`` of field rules —
which is what a marketer builds by hand; segments with deeper rules (made through the API) are
shown read-only. The live count is ``segments.service.preview`` behind a same-origin JSON
endpoint that static/js/segment-builder.js calls with the CSRF header; the "Count" button does
the same through a plain form post, so the page works without JavaScript.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.http import SessionDep
from patron.engagement.segments import service as segments
from patron.engagement.segments.models import Segment
from patron.engagement.segments.rules import FIELDS
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.i18n import N_
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("segments", N_("Segments"), "/segments", icon="filter", order=30)]
MEMBERS_PER_PAGE = 25
MAX_RULES = 30
JOINS = ("all", "any")


def parse_value(text: str) -> Any:
    """A rule value typed in a text box: JSON when it reads as JSON (3, true, [1, 5],
    {"channel": "email"}), else the text itself (a tag, a city)."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def show_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def rules_from_rows(
    join: str, fields: list[str], ops: list[str], values: list[str]
) -> dict[str, Any]:
    """The rule document of the builder's rows (rows without a field are blank and ignored)."""
    if join not in JOINS:
        raise InvalidInput("choose all or any", code="invalid_segment_rule")
    rows = [
        {"field": f, "op": o, "value": parse_value(v)}
        for f, o, v in zip(fields, ops, values, strict=False)
        if f.strip()
    ]
    if not rows:
        raise InvalidInput("add at least one rule", code="invalid_segment_rule")
    if len(rows) > MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} rules", code="invalid_segment_rule")
    return {join: rows}


def rows_of(rules: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """The builder's rows of stored rules, or None when they are deeper than one flat group."""
    if len(rules) != 1:
        return None
    join, parts = next(iter(rules.items()))
    if join not in JOINS or not isinstance(parts, list):
        return None
    if not all(isinstance(p, dict) and "field" in p for p in parts):
        return None
    return join, [
        {"field": p["field"], "op": p.get("op", ""), "value": show_value(p.get("value", ""))}
        for p in parts
    ]


def _field_choices() -> list[dict[str, Any]]:
    return [
        {"name": name, "ops": sorted(spec.ops), "description": spec.description}
        for name, spec in sorted(FIELDS.items())
    ]


def _builder(
    request: Request,
    *,
    segment: Segment | None,
    name: str,
    description: str,
    join: str,
    rows: list[dict[str, Any]],
    count: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    choices = _field_choices()
    by_name = {c["name"]: c for c in choices}
    shown = [
        {
            **row,
            "ops": by_name.get(row["field"], {}).get("ops", []),
            "hint": by_name.get(row["field"], {}).get("description", ""),
        }
        for row in rows or [{"field": "", "op": "", "value": ""}]
    ]
    context = {
        "segment": segment,
        "name": name,
        "description": description,
        "join": join,
        "rows": shown,
        "fields": choices,
        "ops_json": json.dumps({c["name"]: c["ops"] for c in choices}),
        "count": count,
        "error": error,
        "editable": True,
    }
    return render(request, "dashboard/segments/builder.html", context, status=status)


@router.get("/segments")
def segment_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Every active segment with its size, whether it depends on time, and when it was counted."""
    rows = segments.list_segments(session, staff.merchant_id)
    return render(request, "dashboard/segments/list.html", {"rows": rows})


@router.get("/segments/new")
def new_segment(request: Request, staff: ManagerPageDep) -> Response:
    return _builder(request, segment=None, name="", description="", join="all", rows=[])


@router.post("/segments/preview")
def live_count(
    request: Request, session: SessionDep, staff: StaffDep, body: dict[str, Any]
) -> Response:
    """The live count of the rules being edited (JSON in, JSON out; nothing is stored)."""
    try:
        rules = rules_from_rows(
            str(body.get("join", "")),
            [str(r.get("field", "")) for r in body.get("rules", [])],
            [str(r.get("op", "")) for r in body.get("rules", [])],
            [str(r.get("value", "")) for r in body.get("rules", [])],
        )
        found = segments.preview(session, staff.merchant_id, rules, sample=0)
    except (PatronError, AttributeError, TypeError) as exc:
        message = exc.message if isinstance(exc, PatronError) else "malformed rules"
        return JSONResponse({"error": message}, status_code=422)
    return JSONResponse({"count": found["count"], "time_relative": found["time_relative"]})


Rows = Annotated[list[str] | None, Form()]


@router.post("/segments/save")
def save_segment(
    request: Request,
    session: SessionDep,
    staff: ManagerPageDep,
    name: Annotated[str, Form(max_length=120)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    join: Annotated[str, Form(max_length=8)] = "all",
    field: Rows = None,
    op: Rows = None,
    value: Rows = None,
    segment_id: Annotated[int | None, Form()] = None,
    action: Annotated[str, Form(max_length=16)] = "save",
) -> Response:
    """ "Count", "Add rule" and "Save" of the builder without JavaScript; errors are shown inline
    and nothing is stored unless every rule compiles."""
    segment = segments.get_segment(session, staff.merchant_id, segment_id) if segment_id else None
    fields, ops, values = field or [], op or [], value or []
    rows = [{"field": f, "op": o, "value": v} for f, o, v in zip(fields, ops, values, strict=False)]
    keep: dict[str, Any] = {
        "segment": segment,
        "name": name,
        "description": description,
        "join": join,
    }
    if action == "add":
        return _builder(request, rows=[*rows, {"field": "", "op": "", "value": ""}], **keep)
    try:
        rules = rules_from_rows(join, fields, ops, values)
        if action == "count":
            count = segments.preview(session, staff.merchant_id, rules, sample=0)["count"]
            return _builder(request, rows=rows, count=count, **keep)
        saved = _store(session, staff.merchant_id, segment, name, description, rules)
    except PatronError as exc:
        if isinstance(exc, NotFound):
            raise
        session.rollback()
        return _builder(request, rows=rows, error=exc.message, status=422, **keep)
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


@router.get("/segments/{segment_id}")
def segment_detail(
    request: Request,
    segment_id: int,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """A segment's rules and its members (newest first, paged)."""
    segment = segments.get_segment(session, staff.merchant_id, segment_id)
    found = segments.segment_members(
        session, staff.merchant_id, segment_id, limit=MEMBERS_PER_PAGE, cursor=cursor
    )
    more = len(found) > MEMBERS_PER_PAGE
    found = found[:MEMBERS_PER_PAGE]
    flat = rows_of(segment.rules)
    context = {
        "s": segment,
        "rows": found,
        "join": flat[0] if flat else None,
        "rules": flat[1] if flat else None,
        "rules_json": json.dumps(segment.rules, ensure_ascii=False, indent=2),
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
    flat = rows_of(segment.rules)
    if flat is None:
        flash(request, translate(request, "These rules are too deep for the builder."), "error")
        return RedirectResponse(f"/segments/{segment.id}", status_code=303)
    return _builder(
        request,
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
