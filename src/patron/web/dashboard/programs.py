"""Programs in the dashboard: see and change each setting (a new version each time)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, PatronError
from patron.core.http import SessionDep
from patron.core.patch import NULL_REFUSED
from patron.coupons import service as coupons
from patron.i18n import N_
from patron.programs import rules
from patron.programs.config import CONFIG_MODELS, Kind
from patron.programs.models import ProgramRule
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext
from patron.web.dashboard import program_fields as fields
from patron.web.dashboard.program_forms import FORMS, INTROS, TITLES, WEEKDAYS, Rows, exponent
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem("programs", N_("Programs"), "/programs", icon="gift", order=20, min_role=Role.MANAGER)
]

# Pydantic's words for the usual mistakes, as msgids with the number pulled out.
_BOUND = re.compile(r"^Input should be (greater|less) than( or equal to)? (-?[\d.]+)$")
_BOUNDS = {
    ("greater", False): N_("Must be more than %(n)s."),
    ("greater", True): N_("Must be at least %(n)s."),
    ("less", False): N_("Must be less than %(n)s."),
    ("less", True): N_("Must be at most %(n)s."),
}
_KNOWN = {
    "Field required": N_("This is needed."),
    "String should have at least 1 character": N_("This is needed."),
    NULL_REFUSED: N_("This is needed."),  # null on a PATCH field that cannot be empty
    "List should have at least 1 item after validation, not 0": N_("Add at least one."),
    # The programs service's own reasons (patron.programs.config), word for word.
    "tiers go from the lowest threshold up, each higher than the last": N_(
        "Tiers go from the lowest growth up, each higher than the last."
    ),
    "the first tier is the entry tier: threshold 0": N_(
        "The first tier is the entry tier: it needs 0 growth."
    ),
    "tier codes are unique": N_("Each tier needs its own code."),
    "a dates multiplier needs starts_on and ends_on": N_("Dates need a first and a last day."),
    "days of the month are 1 to 31": N_("Days of the month are 1 to 31."),
    "weekdays are 0 (Monday) to 6 (Sunday)": N_("Pick weekdays from the list."),
    "one milestone per streak day": N_("One milestone per day of the streak."),
    "action names are unique": N_("Each action needs its own name."),
    "points by streak day are 0 to 1000000": N_("Points are 0 to 1,000,000."),
    "String should match pattern '^[a-z][a-z0-9_]{0,39}$'": N_(
        "Use small letters, digits and _, starting with a letter (like review_written)."
    ),
}


def service_message(request: Request, msg: str) -> str:
    """The service's reason in the reader's language (unknown ones are shown as they are)."""
    msg = msg.removeprefix("Value error, ")
    bound = _BOUND.match(msg)
    if bound:
        template = _BOUNDS[(bound.group(1), bool(bound.group(2)))]
        return translate(request, template, n=bound.group(3))
    if msg.startswith("a ") and msg.endswith(" multiplier needs a value"):
        return translate(request, "Say which one this applies to.")
    known = _KNOWN.get(msg)
    return translate(request, known) if known else msg


def _kind(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError as exc:
        raise InvalidInput("unknown program", code="unknown_program") from exc


def _status(row: ProgramRule, in_force: ProgramRule | None, now: datetime) -> str:
    if in_force is not None and row.id == in_force.id:
        return "in_force"
    return "scheduled" if row.effective_from > now else "past"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        items = list(enumerate(value))
    if not items:
        return {prefix.rstrip("."): value}
    out: dict[str, Any] = {}
    for key, inner in items:
        out.update(_flatten(inner, f"{prefix}{key}."))
    return out


def _placed(kind: Kind, loc: str) -> bool:
    """Whether the form shows an error at ``loc`` next to an input (else: in the summary)."""
    for section in FORMS[kind]:
        for item in section.items:
            if loc == item.key:
                return True
            if isinstance(item, Rows) and re.fullmatch(rf"{item.key}\.\d+(\.\w+)?", loc):
                return True
    return loc == "effective_from"


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What a version changed against the one before it: (setting, was, now)."""
    if before is None:
        return []  # the first version: everything is new, nothing "changed"
    old, new = _flatten(before), _flatten(after)
    return [
        (k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    ]


def _history(session: Session, merchant_id: int, kind: Kind) -> list[dict[str, Any]]:
    now = utcnow(session)
    in_force = rules.rule_row(session, merchant_id, kind, now)
    rows = rules.versions(session, merchant_id, kind)
    return [
        {
            "row": row,
            "status": _status(row, in_force, now),
            "changes": changes(rows[i + 1].config if i + 1 < len(rows) else None, row.config),
        }
        for i, row in enumerate(rows)
    ]


def _starting_config(session: Session, merchant_id: int, kind: Kind) -> dict[str, Any]:
    """What the form starts from: the newest version (scheduled or in force), else defaults."""
    found = rules.versions(session, merchant_id, kind)
    if found:
        return dict(found[0].config)
    blank: dict[str, Any] = {"tiers": []} if kind is Kind.TIERS else {}
    return CONFIG_MODELS[kind].model_construct(**blank).model_dump(mode="json")


def _page(
    request: Request,
    session: Session,
    staff: StaffContext,
    kind: Kind,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    effective_from: str = "",
    status: int = 200,
) -> Response:
    sections = FORMS[kind]
    counts = {
        item.key: fields.row_count(kind, values, item)
        for section in sections
        for item in section.items
        if isinstance(item, Rows)
    }
    context = {
        "kind": kind.value,
        "title": TITLES[kind],
        "intro": INTROS[kind],
        "sections": sections,
        "values": values,
        "row_counts": counts,
        "errors": errors or {},
        "unplaced": [msg for loc, msg in (errors or {}).items() if not _placed(kind, loc)],
        "effective_from": effective_from,
        "history": _history(session, staff.merchant_id, kind),
        "currency": staff.merchant.currency,
        "weekdays": WEEKDAYS,
        "kinds": [(k.value, TITLES[k]) for k in Kind],
        "coupons": [(t.id, t.name) for t in coupons.list_templates(session, staff.merchant_id)]
        if kind is Kind.CHECK_IN
        else [],
    }
    return render(request, "dashboard/programs/edit.html", context, status=status)


@router.get("/programs")
def overview(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    """Every program with the version in force and what is scheduled."""
    now = utcnow(session)
    cards = []
    for kind in Kind:
        found = rules.versions(session, staff.merchant_id, kind)
        in_force = rules.rule_row(session, staff.merchant_id, kind, now)
        cards.append(
            {
                "kind": kind.value,
                "title": TITLES[kind],
                "intro": INTROS[kind],
                "in_force": in_force,
                "scheduled": [r for r in found if r.effective_from > now],
                "versions": len(found),
            }
        )
    return render(request, "dashboard/programs/index.html", {"cards": cards})


@router.get("/programs/{kind}")
def edit(request: Request, kind: str, session: SessionDep, staff: ManagerPageDep) -> Response:
    """The setting's form (filled with its newest version) and its version history."""
    which = _kind(kind)
    digits = exponent(staff.merchant.currency)
    values = fields.form_values(which, _starting_config(session, staff.merchant_id, which), digits)
    return _page(request, session, staff, which, values)


async def submitted_form(request: Request) -> FormData:
    return await request.form()


def read_effective_from(text: str, timezone: str) -> datetime | None:
    """The datetime-local input, read in the shop's time zone (blank: now)."""
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput("not a date and time", code="invalid_datetime") from exc
    return local.replace(tzinfo=ZoneInfo(timezone)) if local.tzinfo is None else local


@router.post("/programs/{kind}")
def save(
    request: Request,
    kind: str,
    session: SessionDep,
    staff: ManagerPageDep,
    form: Annotated[FormData, Depends(submitted_form)],
) -> Response:
    """Save the form as the setting's next version. Mistakes come back on the form, with
    nothing saved."""
    which = _kind(kind)
    raw = fields.form_mapping(which, form)
    when_text = str(raw.pop("effective_from", "") or "")
    parsed = fields.read_form(which, raw, exponent(staff.merchant.currency))
    errors = {loc: translate(request, msg) for loc, msg in parsed.errors.items()}
    try:
        when = read_effective_from(when_text, staff.merchant.timezone)
    except InvalidInput:
        errors["effective_from"] = translate(request, "Enter a date and time.")
    if not errors:
        try:
            row = rules.put_rule(
                session, staff.merchant_id, which, parsed.config, staff.actor, when
            )
        except InvalidInput as exc:
            for item in (exc.details or {}).get("errors", []):
                errors.setdefault(item["loc"], service_message(request, item["msg"]))
            if not errors:
                errors[""] = exc.message
        except PatronError as exc:
            errors[""] = exc.message
        else:
            flash(
                request,
                translate(request, "Saved as version %(version)s.", version=row.version),
            )
            return RedirectResponse(f"/programs/{which.value}", status_code=303)
    values = fields.submitted_values(which, raw)
    return _page(
        request,
        session,
        staff,
        which,
        values,
        errors=errors,
        effective_from=when_text,
        status=422,
    )
