"""Gifts with purchase in the dashboard: the rules ("spend X, or buy product Y → gift Z while
stock lasts") with how many were given, a rule's form, and switching a rule off or on.

Reading is open to every staff member; changing needs a manager (as the API). Every change goes
through ``patron.coupons.gifts``; a refusal is shown on the form and nothing is saved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import FormData

from patron.core.errors import NotFound
from patron.core.http import SessionDep
from patron.coupons import gifts
from patron.coupons.models import GiftGrant, GiftRule
from patron.coupons.schemas import GiftRuleIn, GiftRulePatch
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import offer_forms as forms
from patron.web.dashboard.program_forms import exponent
from patron.web.dashboard.programs import submitted_form
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("gifts", N_("Gifts with purchase"), "/gifts", icon="gift", order=26)]
FormDep = Annotated[FormData, Depends(submitted_form)]


@router.get("/gifts")
def rule_list(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Every rule: the condition, the gift, stock left, given so far, dates, on or off."""
    given = dict(
        session.execute(
            select(GiftGrant.rule_id, func.sum(GiftGrant.quantity))
            .where(GiftGrant.merchant_id == staff.merchant_id)
            .group_by(GiftGrant.rule_id)
        ).all()
    )
    context = {
        "rows": gifts.list_rules(session, staff.merchant_id),
        "given": {int(k): int(v or 0) for k, v in given.items()},
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/gifts/list.html", context)


def _form_page(
    request: Request,
    staff: StaffContext,
    values: dict[str, Any],
    rule: GiftRule | None,
    errors: dict[str, str] | None = None,
) -> Response:
    errors = errors or {}
    keys = {f.key for f in forms.fields_of(forms.RULE_FORM)}
    context = {
        "title": rule.name if rule else N_("New gift with purchase"),
        "translated_title": rule is None,
        "crumbs": [("/gifts", N_("Gifts with purchase"))],
        "action": f"/gifts/{rule.id}/edit" if rule else "/gifts/new",
        "back": "/gifts",
        "sections": forms.RULE_FORM,
        "editable": forms.RULE_EDITABLE if rule is not None else None,
        "fixed_note": N_(
            "The condition and the gift are fixed once a rule exists: switch it off and add a "
            "new rule to change them."
        ),
        "values": values,
        "errors": errors,
        "unplaced": [msg for key, msg in errors.items() if key not in keys],
        "store_choices": [],
        "coupon_choices": [],
        "submit": N_("Save rule"),
    }
    return render(request, "dashboard/offers/form.html", context, status=422 if errors else 200)


@router.get("/gifts/new")
def new_rule(request: Request, staff: ManagerPageDep) -> Response:
    return _form_page(request, staff, {"gift_quantity": "1"}, None)


@router.post("/gifts/new")
def create_rule(
    request: Request, session: SessionDep, staff: ManagerPageDep, form: FormDep
) -> Response:
    """Add a rule through ``gifts.create_rule``; mistakes come back on the form."""
    fields = forms.fields_of(forms.RULE_FORM)
    merchant = staff.merchant
    got = forms.read(request, fields, form, exponent(merchant.currency), merchant.timezone)
    done = forms.submit(
        request,
        session,
        GiftRuleIn,
        got,
        lambda data: gifts.create_rule(session, staff.merchant_id, data),
        N_("Rule saved."),
        lambda _r: "/gifts",
    )
    if done is not None:
        return done
    return _form_page(request, staff, forms.typed_values(fields, form), None, got.errors)


def _values(rule: GiftRule, staff: StaffContext) -> dict[str, Any]:
    merchant = staff.merchant
    return forms.shown_values(
        forms.fields_of(forms.RULE_FORM), rule, exponent(merchant.currency), merchant.timezone
    )


@router.get("/gifts/{gift_rule_id}/edit")
def edit_rule(
    request: Request, gift_rule_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    rule = gifts.get_rule(session, staff.merchant_id, gift_rule_id)
    return _form_page(request, staff, _values(rule, staff), rule)


@router.post("/gifts/{gift_rule_id}/edit")
def update_rule(
    request: Request,
    gift_rule_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    form: FormDep,
) -> Response:
    """Change the name, restock, or the end date (``gifts.update_rule``)."""
    rule = gifts.get_rule(session, staff.merchant_id, gift_rule_id)
    merchant = staff.merchant
    fields = forms.fields_of(forms.RULE_FORM, forms.RULE_EDITABLE)
    got = forms.read(request, fields, form, exponent(merchant.currency), merchant.timezone)
    done = forms.submit(
        request,
        session,
        GiftRulePatch,
        got,
        lambda patch: gifts.update_rule(session, staff.merchant_id, gift_rule_id, patch),
        N_("Rule saved."),
        lambda _r: "/gifts",
    )
    if done is not None:
        return done
    rule = gifts.get_rule(session, staff.merchant_id, gift_rule_id)
    values = _values(rule, staff) | forms.typed_values(fields, form)
    return _form_page(request, staff, values, rule, got.errors)


@router.post("/gifts/{gift_rule_id}/{action}")
def rule_status(
    request: Request, gift_rule_id: int, action: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Switch a rule off (``deactivate``: no more gifts) or on again (``activate``)."""
    status = {"deactivate": "archived", "activate": "active"}.get(action)
    if status is None:
        raise NotFound("no such action", code="not_found")
    gifts.update_rule(
        session,
        staff.merchant_id,
        gift_rule_id,
        GiftRulePatch(status=status),
    )
    done = N_("Rule switched off.") if status == "archived" else N_("Rule switched on.")
    flash(request, translate(request, done))
    return RedirectResponse("/gifts", status_code=303)
