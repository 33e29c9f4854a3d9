"""Coupons in the dashboard: the templates with their issued and redeemed counts, a template's
form, archive, issue to one member or in bulk (a segment or a list of member ids), and a
template's codes with their status (void one).

Reading is open to every staff member; changing anything needs the manager role (as the API).
Every change goes through ``patron.coupons.service``; a refusal is shown on the page and its
transaction rolled back (ADR 0850), so a refused form never leaves half a change behind.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep
from patron.coupons import service
from patron.coupons.models import CodeStatus, CouponCode, CouponTemplate
from patron.coupons.schemas import BulkIssueIn, TemplateIn, TemplatePatch
from patron.engagement.segments import service as segments
from patron.i18n import N_
from patron.members import service as members
from patron.members.models import Member
from patron.tenancy.models import Role, Store
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import offer_forms as forms
from patron.web.dashboard.program_fields import money_text
from patron.web.dashboard.program_forms import exponent
from patron.web.dashboard.programs import submitted_form
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("coupons", N_("Coupons"), "/coupons", icon="ticket", order=22)]

CODES_PER_PAGE = 50
STATUSES = tuple(s.value for s in CodeStatus)
FormDep = Annotated[FormData, Depends(submitted_form)]
_IDS = re.compile(r"[\s,，;]+")


def status_counts(session: Session, merchant_id: int) -> dict[int, dict[str, int]]:
    """Codes per template and status (one grouped query)."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(CouponCode.template_id, CouponCode.status, func.count())
        .where(CouponCode.merchant_id == merchant_id)
        .group_by(CouponCode.template_id, CouponCode.status)
    )
    for template_id, status, n in rows:
        counts.setdefault(int(template_id), {})[str(status)] = int(n)
    return counts


@router.get("/coupons")
def coupon_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    archived: Annotated[bool, Query()] = False,
) -> Response:
    """The templates: value, conditions, issued (of the limit), redeemed, status."""
    rows = service.list_templates(session, staff.merchant_id, include_archived=archived)
    context = {
        "rows": rows,
        "counts": status_counts(session, staff.merchant_id),
        "archived": archived,
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/coupons/list.html", context)


def _stores(session: Session, merchant_id: int) -> list[tuple[str, str]]:
    rows = session.scalars(select(Store).where(Store.merchant_id == merchant_id).order_by(Store.id))
    return [(str(s.id), f"{s.name} ({s.code})") for s in rows]


def _form_page(
    request: Request,
    session: Session,
    staff: StaffContext,
    values: dict[str, Any],
    template: CouponTemplate | None,
    errors: dict[str, str] | None = None,
) -> Response:
    errors = errors or {}
    editable = forms.TEMPLATE_EDITABLE if template is not None else None
    context = {
        "title": template.name if template else N_("New coupon"),
        "translated_title": template is None,
        "crumbs": [("/coupons", N_("Coupons"))],
        "action": f"/coupons/{template.id}/edit" if template else "/coupons/new",
        "back": f"/coupons/{template.id}" if template else "/coupons",
        "sections": forms.TEMPLATE_FORM,
        "editable": editable,
        "fixed_note": N_(
            "Members hold coupons that promise this discount: only the words, the end date, "
            "the limits and automatic issue can change."
        ),
        "values": values,
        "errors": errors,
        "unplaced": _unplaced(forms.TEMPLATE_FORM, errors),
        "store_choices": _stores(session, staff.merchant_id),
        "coupon_choices": [],
        "submit": N_("Save coupon"),
    }
    return render(request, "dashboard/offers/form.html", context, status=422 if errors else 200)


def _unplaced(sections: Any, errors: dict[str, str]) -> list[str]:
    keys = {f.key for f in forms.fields_of(sections)}
    return [msg for key, msg in errors.items() if key not in keys]


@router.get("/coupons/new")
def new_coupon(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    values = {
        "kind": "amount_off",
        "min_spend_minor": money_text(0, exponent(staff.merchant.currency)),
        "with_member_discounts": True,
        "stackable": False,
    }
    return _form_page(request, session, staff, values, None)


@router.post("/coupons/new")
def create_coupon(
    request: Request, session: SessionDep, staff: ManagerPageDep, form: FormDep
) -> Response:
    """Create a template through ``service.create_template``; mistakes come back on the form."""
    fields = forms.fields_of(forms.TEMPLATE_FORM)
    merchant = staff.merchant
    got = forms.read(request, fields, form, exponent(merchant.currency), merchant.timezone)
    done = forms.submit(
        request,
        session,
        TemplateIn,
        got,
        lambda data: service.create_template(session, staff.merchant_id, data),
        N_("Coupon saved."),
        lambda template: f"/coupons/{template.id}",
    )
    if done is not None:
        return done
    return _form_page(request, session, staff, forms.typed_values(fields, form), None, got.errors)


@router.get("/coupons/{template_id}/edit")
def edit_coupon(
    request: Request, template_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    template = service.get_template(session, staff.merchant_id, template_id)
    merchant = staff.merchant
    values = forms.shown_values(
        forms.fields_of(forms.TEMPLATE_FORM),
        template,
        exponent(merchant.currency),
        merchant.timezone,
    )
    return _form_page(request, session, staff, values, template)


@router.post("/coupons/{template_id}/edit")
def update_coupon(
    request: Request, template_id: int, session: SessionDep, staff: ManagerPageDep, form: FormDep
) -> Response:
    """Change what may change (``TemplatePatch``) through ``service.update_template``."""
    template = service.get_template(session, staff.merchant_id, template_id)
    merchant = staff.merchant
    digits = exponent(merchant.currency)
    fields = forms.fields_of(forms.TEMPLATE_FORM, forms.TEMPLATE_EDITABLE)
    got = forms.read(request, fields, form, digits, merchant.timezone)
    done = forms.submit(
        request,
        session,
        TemplatePatch,
        got,
        lambda patch: service.update_template(session, staff.merchant_id, template_id, patch),
        N_("Coupon saved."),
        lambda _t: f"/coupons/{template_id}",
    )
    if done is not None:
        return done
    template = service.get_template(session, staff.merchant_id, template_id)
    values = forms.shown_values(
        forms.fields_of(forms.TEMPLATE_FORM), template, digits, merchant.timezone
    )
    values |= forms.typed_values(fields, form)
    return _form_page(request, session, staff, values, template, got.errors)


def _set_status(
    request: Request, session: Session, staff: StaffContext, template_id: int, status: str
) -> Response:
    try:
        service.update_template(
            session,
            staff.merchant_id,
            template_id,
            TemplatePatch(status=status),
        )
    except PatronError as exc:
        _refused(request, session, exc)
    else:
        done = N_("Coupon archived.") if status == "archived" else N_("Coupon active again.")
        flash(request, translate(request, done))
    return RedirectResponse(f"/coupons/{template_id}", status_code=303)


@router.post("/coupons/{template_id}/archive")
def archive_coupon(
    request: Request, template_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Stop issuing it (coupons already issued stay usable)."""
    return _set_status(request, session, staff, template_id, "archived")


@router.post("/coupons/{template_id}/restore")
def restore_coupon(
    request: Request, template_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    return _set_status(request, session, staff, template_id, "active")


def _refused(request: Request, session: Session, exc: PatronError) -> None:
    """Roll the refused change back and say why; a foreign template stays a 404."""
    session.rollback()
    if isinstance(exc, NotFound) and exc.code in {"coupon_template_not_found", "coupon_not_found"}:
        raise exc
    flash(
        request,
        translate(request, "Not done: %(reason)s", reason=forms.refusal(request, exc)),
        "error",
    )


@router.get("/coupons/{template_id}")
def coupon_detail(
    request: Request,
    template_id: int,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The template, its counts, the issue forms (managers) and its codes (50 a page)."""
    template = service.get_template(session, staff.merchant_id, template_id)
    status = status if status in STATUSES else ""
    codes = service.list_codes(
        session,
        staff.merchant_id,
        template_id=template.id,
        status=status or None,
        limit=CODES_PER_PAGE,
        cursor=cursor,
    )
    more = len(codes) > CODES_PER_PAGE
    codes = codes[:CODES_PER_PAGE]
    member_ids = {c.member_id for c in codes if c.member_id is not None}
    names = {
        m.id: m
        for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))
        if m.merchant_id == staff.merchant_id
    }
    stores = dict(_stores(session, staff.merchant_id))
    context = {
        "t": template,
        "counts": status_counts(session, staff.merchant_id).get(template.id, {}),
        "codes": codes,
        "members": names,
        "status": status,
        "statuses": STATUSES,
        "next_cursor": codes[-1].id if more and codes else None,
        "paged": cursor is not None,
        "store_names": [stores.get(str(i), str(i)) for i in template.store_ids],
        "segments": segments.list_segments(session, staff.merchant_id),
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/coupons/detail.html", context)


def find_member(session: Session, merchant_id: int, who: str) -> Member:
    """The one member ``who`` names: an id, or a phone, email, name or member number."""
    who = who.strip()
    if who.isdigit():
        member = session.get(Member, int(who))
        live = member is not None and member.merged_into_id is None
        if live and member is not None and member.merchant_id == merchant_id:
            return member
    found = members.search_members(session, merchant_id, q=who, limit=1) if who else []
    if len(found) != 1:
        code = "member_ambiguous" if found else "member_not_found"
        raise NotFound("no single member matches", code=code)
    return found[0]


@router.post("/coupons/{template_id}/issue")
def issue_one(
    request: Request,
    template_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    who: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Issue one coupon to the member found by id, phone, email or name."""
    service.get_template(session, staff.merchant_id, template_id)
    try:
        member = find_member(session, staff.merchant_id, who)
    except NotFound as exc:
        text = (
            N_("More than one member matches: use the member's id or full phone number.")
            if exc.code == "member_ambiguous"
            else N_("No member matches “%(who)s”.")
        )
        flash(request, translate(request, text, who=who), "error")
        return RedirectResponse(f"/coupons/{template_id}#issue", status_code=303)
    try:
        code = service.issue_code(
            session, staff.merchant_id, template_id, member.id, actor=staff.actor
        )
    except PatronError as exc:
        _refused(request, session, exc)
    else:
        flash(
            request,
            translate(
                request,
                "Coupon %(code)s issued to %(name)s.",
                code=code.code,
                name=member.display_name,
            ),
        )
    return RedirectResponse(f"/coupons/{template_id}#issue", status_code=303)


def _member_ids(text: str) -> list[int]:
    parts = [p for p in _IDS.split(text.strip()) if p]
    if not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return [int(p) for p in parts]


@router.post("/coupons/{template_id}/issue-bulk")
def issue_many(
    request: Request,
    template_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    segment_id: Annotated[str, Form(max_length=20)] = "",
    member_ids: Annotated[str, Form(max_length=2_000_000)] = "",
) -> Response:
    """Issue one coupon to every member of a segment, or of a list of member ids."""
    service.get_template(session, staff.merchant_id, template_id)
    back = RedirectResponse(f"/coupons/{template_id}#issue", status_code=303)
    try:
        if segment_id.strip():
            if not segment_id.strip().isdigit():
                raise NotFound("segment not found", code="segment_not_found")
            segment = segments.get_segment(session, staff.merchant_id, int(segment_id))
            ids = segments.member_ids_in(session, segment.id)
        else:
            ids = _member_ids(member_ids)
    except (ValueError, NotFound):
        flash(request, translate(request, "Choose a segment, or list member ids."), "error")
        return back
    if not ids:
        flash(request, translate(request, "Nobody to issue to: the list is empty."), "error")
        return back
    try:
        body = BulkIssueIn(member_ids=ids)
        issued, skipped = service.issue_bulk(
            session, staff.merchant_id, template_id, body.member_ids, actor=staff.actor
        )
    except PatronError as exc:
        _refused(request, session, exc)
    except ValueError:  # pydantic: more ids than one bulk issue takes
        flash(request, translate(request, "At most 200,000 members at a time."), "error")
    else:
        flash(
            request,
            translate(
                request,
                "%(issued)s coupons issued; %(skipped)s members skipped (unknown, or already "
                "holding as many as allowed).",
                issued=issued,
                skipped=skipped,
            ),
        )
    return back


@router.post("/coupons/{template_id}/codes/{code_id}/void")
def void(
    request: Request,
    template_id: int,
    code_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Void an unused coupon, with a reason (``service.void_code``)."""
    code = service.get_code(session, staff.merchant_id, code_id)
    if code.template_id != template_id:
        raise NotFound("coupon not found", code="coupon_not_found")
    target = back if back.startswith(f"/coupons/{template_id}") else f"/coupons/{template_id}"
    if not reason.strip():
        flash(request, translate(request, "Say why the coupon is voided."), "error")
        return RedirectResponse(target, status_code=303)
    try:
        service.void_code(session, staff.merchant_id, code_id, reason.strip(), staff.actor)
    except PatronError as exc:
        _refused(request, session, exc)
    else:
        flash(request, translate(request, "Coupon %(code)s voided.", code=code.code))
    return RedirectResponse(target, status_code=303)
