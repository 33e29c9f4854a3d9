"""The forms of the coupon, points mall and gift-with-purchase pages.

Each form is a tuple of :class:`~patron.web.dashboard.program_forms.Section` of
:class:`~patron.web.dashboard.program_forms.Field`, read with the programs' own
:func:`~patron.web.dashboard.program_fields.read_value` (money in major units, comma lists,
optional numbers), plus four kinds these pages need: ``textarea``, ``datetime`` (a
``datetime-local`` input read in the shop's time zone), ``multi`` (ticked words) and
``stores`` / ``coupon`` (ids picked from the merchant's stores or coupon templates).

The API's schemas (``patron.coupons.schemas``) and the services stay the judges: this module only
turns text into values, and a schema's refusal into a message at the matching input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from patron.core.errors import InvalidInput, PatronError
from patron.web.dashboard import program_fields
from patron.web.dashboard.program_forms import Field, Section
from patron.web.dashboard.programs import effective_from_input, service_message
from patron.web.i18n import N_
from patron.web.rendering import flash, translate

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
OWN_KINDS = {"textarea", "datetime", "multi", "stores", "coupon"}
AUTO_ISSUE = (
    ("welcome", N_("When a member registers")),
    ("birthday", N_("On the member's birthday")),
    ("tier_up", N_("When a member moves up a tier")),
)

TEMPLATE_FORM = (
    Section(
        N_("Coupon"),
        N_("What members see in their wallet."),
        (
            Field("name", N_("Name"), "text"),
            Field("description", N_("Description"), "textarea", N_("Optional.")),
            Field(
                "kind",
                N_("Kind"),
                "choice",
                choices=(
                    ("amount_off", N_("A fixed amount off")),
                    ("percent_off", N_("A percentage off")),
                    ("free_gift", N_("A free gift")),
                ),
            ),
        ),
    ),
    Section(
        N_("Discount"),
        N_("Fill in the part for the kind chosen above."),
        (
            Field("amount_off_minor", N_("Fixed amount: amount off"), "opt_money"),
            Field("percent_off", N_("Percentage: percent off"), "opt_int", suffix="%"),
            Field(
                "max_discount_minor",
                N_("Percentage: at most"),
                "opt_money",
                N_("Blank: no cap."),
            ),
            Field("gift_sku", N_("Free gift: product (SKU)"), "opt_text"),
            Field("gift_name", N_("Free gift: name"), "opt_text"),
            Field(
                "min_spend_minor",
                N_("Minimum spend"),
                "money",
                N_("On the eligible products, after member discounts. 0: no minimum."),
            ),
        ),
    ),
    Section(
        N_("Where it applies"),
        N_("Leave empty for everything."),
        (
            Field("categories", N_("Categories"), "csv", N_("Separate with commas.")),
            Field("skus", N_("Products (SKU)"), "csv", N_("Separate with commas.")),
            Field("store_ids", N_("Stores"), "stores", N_("None ticked: every store.")),
        ),
    ),
    Section(
        N_("Validity"),
        N_(
            "Fixed dates, or a number of days from when each coupon is issued; with both, "
            "the earlier end applies. The shop's time zone."
        ),
        (
            Field("valid_from", N_("Valid from"), "datetime", N_("Blank: from issue.")),
            Field("valid_to", N_("Valid until"), "datetime", N_("Blank: no end date.")),
            Field(
                "valid_days",
                N_("Days from issue"),
                "opt_int",
                N_("Blank: no limit in days."),
                suffix=N_("days"),
            ),
        ),
    ),
    Section(
        N_("Limits and stacking"),
        "",
        (
            Field(
                "per_member_limit",
                N_("Most per member"),
                "opt_int",
                N_("Blank: no limit."),
            ),
            Field("total_limit", N_("Most in total"), "opt_int", N_("Blank: no limit.")),
            Field("stackable", N_("Can be used together with other stackable coupons"), "bool"),
            Field(
                "with_member_discounts",
                N_("Can be used on top of tier and member day discounts"),
                "bool",
            ),
        ),
    ),
    Section(
        N_("Issue automatically"),
        "",
        (
            Field("auto_issue_on", N_("Issue on its own"), "multi", choices=AUTO_ISSUE),
            Field(
                "tier_codes",
                N_("Only for these tiers (codes)"),
                "csv",
                N_("Moving up a tier only. Empty: any tier."),
            ),
        ),
    ),
)
# What may change once a template exists (the API's TemplatePatch): members hold coupons that
# promise the discount, so the discount itself is fixed.
TEMPLATE_EDITABLE = (
    "name",
    "description",
    "valid_to",
    "per_member_limit",
    "total_limit",
    "auto_issue_on",
)

ITEM_FORM = (
    Section(
        N_("Item"),
        "",
        (
            Field(
                "kind",
                N_("Kind"),
                "choice",
                choices=(
                    ("gift", N_("A gift")),
                    ("voucher", N_("A voucher (issues a coupon)")),
                    ("product", N_("A product")),
                ),
            ),
            Field("name", N_("Name"), "text"),
            Field("description", N_("Description"), "textarea", N_("Optional.")),
            Field("sku", N_("Product (SKU)"), "opt_text", N_("Optional.")),
            Field(
                "template_id",
                N_("Coupon"),
                "coupon",
                N_("Vouchers only: the coupon the member receives."),
            ),
        ),
    ),
    Section(
        N_("Price and stock"),
        "",
        (
            Field("points_price", N_("Price"), suffix=N_("points")),
            Field(
                "stock",
                N_("Stock left"),
                "opt_int",
                N_("Blank: unlimited. Changing it sets what is left (a restock)."),
            ),
            Field("per_member_limit", N_("Most per member"), "opt_int", N_("Blank: no limit.")),
            Field("active_from", N_("On offer from"), "datetime", N_("Blank: now.")),
            Field("active_to", N_("On offer until"), "datetime", N_("Blank: no end date.")),
        ),
    ),
)
ITEM_EDITABLE = (
    "name",
    "description",
    "points_price",
    "stock",
    "per_member_limit",
    "active_from",
    "active_to",
)

RULE_FORM = (
    Section(
        N_("Rule"),
        N_("Either a minimum spend (optionally in some categories) or a product to buy."),
        (
            Field("name", N_("Name"), "text"),
            Field(
                "min_spend_minor",
                N_("Spend at least"),
                "opt_money",
                N_("After member discounts."),
            ),
            Field(
                "categories",
                N_("…in these categories"),
                "csv",
                N_("Separate with commas. Empty: the whole order."),
            ),
            Field("buy_sku", N_("Or buy this product (SKU)"), "opt_text"),
        ),
    ),
    Section(
        N_("Gift"),
        "",
        (
            Field("gift_sku", N_("Gift product (SKU)"), "text"),
            Field("gift_name", N_("Gift name"), "text"),
            Field("gift_quantity", N_("How many per order")),
            Field(
                "stock",
                N_("Stock left"),
                "opt_int",
                N_("Blank: unlimited. Changing it sets what is left (a restock)."),
            ),
            Field("active_from", N_("From"), "datetime", N_("Blank: now.")),
            Field("active_to", N_("Until"), "datetime", N_("Blank: no end date.")),
        ),
    ),
)
RULE_EDITABLE = ("name", "stock", "active_to")

# The schemas' own reasons (patron.coupons.schemas), word for word: where to show them and how.
PLACED: dict[str, tuple[str, str]] = {
    "an amount_off coupon needs amount_off_minor": (
        "amount_off_minor",
        N_("A fixed amount coupon needs the amount off."),
    ),
    "a percent_off coupon needs percent_off": (
        "percent_off",
        N_("A percentage coupon needs the percent off."),
    ),
    "a free_gift coupon needs gift_sku and gift_name": (
        "gift_sku",
        N_("A free gift coupon needs the gift's product (SKU) and name."),
    ),
    "valid_from must be before valid_to": ("valid_to", N_("The end must be after the start.")),
    "a voucher names the coupon template it issues (template_id)": (
        "template_id",
        N_("A voucher needs the coupon it issues."),
    ),
    "only vouchers issue coupons": ("template_id", N_("Only a voucher issues a coupon.")),
    "a gift rule is either 'spend min_spend_minor' or 'buy buy_sku'": (
        "min_spend_minor",
        N_("Fill in either a minimum spend or a product to buy, not both."),
    ),
}

# The services' refusals by code, in the reader's language (others are shown as they are).
REFUSALS: dict[str, str] = {
    "limit_below_issued": N_("More coupons are already issued than this limit."),
    "coupon_template_archived": N_("This coupon is archived."),
    "coupon_ended": N_("This coupon's validity has ended."),
    "coupon_issue_limit_reached": N_("This coupon's issue limit is reached."),
    "coupon_member_limit_reached": N_(
        "This member already holds as many of this coupon as allowed."
    ),
    "coupon_not_voidable": N_("Only a coupon that is ready to use can be voided."),
    "member_not_found": N_("No such member."),
    "mall_order_transition": N_("The order cannot move to that state."),
    "mall_voucher_used": N_("The voucher's coupon is already used: the order cannot be cancelled."),
    "coupon_template_not_found": N_("No such coupon."),
}


def refusal(request: Request, exc: PatronError) -> str:
    known = REFUSALS.get(exc.code)
    return translate(request, known) if known else exc.message


@dataclass
class Read:
    """A submitted form: the values by input name, or what could not be read."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def fields_of(form: tuple[Section, ...], only: tuple[str, ...] | None = None) -> list[Field]:
    found = [f for s in form for f in s.items if isinstance(f, Field)]
    return [f for f in found if only is None or f.key in only]


def read(
    request: Request,
    fields: list[Field],
    form: FormData,
    digits: int,
    timezone: str,
) -> Read:
    """The values of ``fields`` in a submitted form (errors in the reader's language)."""
    out = Read()
    for f in fields:
        try:
            out.data[f.key] = _read_one(f, form, digits, timezone)
        except program_fields.Unreadable as exc:
            out.errors[f.key] = translate(request, exc.args[0])
    return out


def _read_one(f: Field, form: FormData, digits: int, timezone: str) -> Any:
    if f.kind == "multi":
        return [v for v in form.getlist(f.key) if isinstance(v, str) and v]
    if f.kind == "stores":
        try:
            return sorted({int(v) for v in form.getlist(f.key) if isinstance(v, str)})
        except ValueError as exc:
            raise program_fields.Unreadable(N_("Pick stores from the list.")) from exc
    raw = form.get(f.key)
    text = raw.strip() if isinstance(raw, str) else ""
    if f.kind == "textarea":
        return text or None
    if f.kind == "datetime":
        try:
            return effective_from_input(text, timezone)
        except InvalidInput as exc:
            raise program_fields.Unreadable(N_("Enter a date and time.")) from exc
    if f.kind == "coupon":
        return int(text) if text.isdigit() else None
    return program_fields.read_value(f, raw if isinstance(raw, str) else None, digits)


def check(
    request: Request, schema: type[M], data: Mapping[str, Any], errors: dict[str, str]
) -> M | None:
    """``data`` as the API's ``schema``; its refusals go into ``errors`` at their inputs."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        for item in exc.errors():
            msg = str(item["msg"]).removeprefix("Value error, ")
            if msg in PLACED:
                key, text = PLACED[msg]
                errors.setdefault(key, translate(request, text))
                continue
            key = str(item["loc"][0]) if item["loc"] else ""
            errors.setdefault(key, service_message(request, msg))
        return None


def submit(
    request: Request,
    session: Session,
    schema: type[M],
    got: Read,
    act: Callable[[M], T],
    saved: str,
    to: Callable[[T], str],
    refusal_at: Mapping[str, str] | None = None,
) -> Response | None:
    """Check ``got`` as the API's ``schema`` and hand it to the service (``act``): on success a
    flash and a redirect to ``to(result)``; a refusal rolls back (ADR 0850) and goes into
    ``got.errors`` for the form to show again (``None``), at the input ``refusal_at`` names for
    its code, else at the top of the form."""
    data = check(request, schema, got.data, got.errors) if not got.errors else None
    if data is None:
        return None
    try:
        result = act(data)
    except PatronError as exc:
        session.rollback()
        got.errors[(refusal_at or {}).get(exc.code, "")] = refusal(request, exc)
        return None
    flash(request, translate(request, saved))
    return RedirectResponse(to(result), status_code=303)


def shown_values(fields: list[Field], obj: Any, digits: int, timezone: str) -> dict[str, Any]:
    """A stored object as its form shows it."""
    values: dict[str, Any] = {}
    for f in fields:
        value = getattr(obj, f.key, None)
        if f.kind in {"multi", "stores"}:
            values[f.key] = [str(v) for v in value or []]
        elif f.kind == "datetime":
            values[f.key] = local_text(value, timezone)
        elif f.kind == "textarea":
            values[f.key] = value or ""
        elif f.kind == "coupon":
            values[f.key] = "" if value is None else str(value)
        else:
            values[f.key] = program_fields.shown(f, value, digits)
    return values


def typed_values(fields: list[Field], form: FormData) -> dict[str, Any]:
    """What the merchant typed, to show again beside the errors."""
    values: dict[str, Any] = {}
    for f in fields:
        if f.kind in {"multi", "stores"}:
            values[f.key] = [str(v) for v in form.getlist(f.key)]
        elif f.kind == "bool":
            values[f.key] = form.get(f.key) in {"on", "true", "1"}
        else:
            raw = form.get(f.key)
            values[f.key] = raw if isinstance(raw, str) else ""
    return values


def local_text(value: datetime | None, timezone: str) -> str:
    """A stored time as a ``datetime-local`` input shows it, in the shop's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")
