"""Segment rules: a small JSON language compiled to one SQL condition over members.

A rule is one of::

    {"all": [rule, ...]}            every rule holds
    {"any": [rule, ...]}            at least one holds
    {"not": rule}                   the rule does not hold
    {"segment": 12}                 the member is in segment 12 (its rules, evaluated now)
    {"field": "orders_count", "op": "gte", "value": 3}

Fields are registered in ``FIELDS`` (``patron.core.member_fields``, the contract below every
domain; other domains add theirs: tier, points balance, RFM …). Each compiles to a SQLAlchemy
boolean over ``members``, so a segment is evaluated by the database in one query — never by a
Python loop over members. Each field also says what kind of value it takes
(:class:`ValueKind`: money in minor units, a count, days, a date, a choice…), so a form can ask
for the value in its own type instead of as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput
from patron.core.member_fields import (  # the field contract (ADR 0920)
    COMPARE,
    FIELDS,
    Context,
    FieldCompiler,
    ValueKind,
    compare,
    register_field,
)
from patron.core.sqlfn import has_in_json_array, month_day
from patron.members.models import Member, MemberConsent, MemberTag
from patron.orders.models import Order, OrderLine, OrderStatus

MAX_DEPTH = 8
COUNTED = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)
DATE_OPS = {"before", "after", "on", "between"}


# Resolves {"segment": id} to that segment's rules (set by the segment service).
SEGMENT_LOADER: list[Callable[[Session, int, int], dict[str, Any]]] = []


def compile_rule(ctx: Context, rule: Any, path: str = "rules") -> ColumnElement[bool]:
    """The SQL condition for ``rule``; :class:`InvalidInput` names the faulty part."""
    if ctx.depth > MAX_DEPTH:
        raise InvalidInput(f"{path}: rules nest too deeply", code="invalid_segment_rule")
    if not isinstance(rule, dict) or len(rule) == 0:
        raise InvalidInput(f"{path}: a rule is an object", code="invalid_segment_rule")
    ctx.depth += 1
    try:
        if "all" in rule or "any" in rule:
            key = "all" if "all" in rule else "any"
            parts = rule[key]
            if not isinstance(parts, list) or not parts:
                raise InvalidInput(
                    f"{path}.{key}: a non-empty list of rules", code="invalid_segment_rule"
                )
            compiled = [compile_rule(ctx, p, f"{path}.{key}[{i}]") for i, p in enumerate(parts)]
            return and_(*compiled) if key == "all" else or_(*compiled)
        if "not" in rule:
            return not_(compile_rule(ctx, rule["not"], f"{path}.not"))
        if "segment" in rule:
            return _nested_segment(ctx, rule["segment"], path)
        return _field_rule(ctx, rule, path)
    finally:
        ctx.depth -= 1


def _nested_segment(ctx: Context, segment_id: Any, path: str) -> ColumnElement[bool]:
    if not isinstance(segment_id, int) or isinstance(segment_id, bool):
        raise InvalidInput(f"{path}.segment: a segment id", code="invalid_segment_rule")
    if segment_id in ctx.seen_segments:
        raise InvalidInput(f"{path}: segment {segment_id} refers to itself", code="segment_cycle")
    if not SEGMENT_LOADER:
        raise InvalidInput(
            f"{path}: nested segments are not available", code="invalid_segment_rule"
        )
    nested = SEGMENT_LOADER[0](ctx.session, ctx.merchant_id, segment_id)
    ctx.seen_segments.add(segment_id)
    try:
        return compile_rule(ctx, nested, f"{path}(segment {segment_id})")
    finally:
        ctx.seen_segments.discard(segment_id)


def _field_rule(ctx: Context, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
    name, op = rule.get("field"), rule.get("op")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidInput(
            f"{path}: unknown field {name!r}",
            code="unknown_segment_field",
            details={"known": sorted(FIELDS)},
        )
    if op not in spec.ops:
        raise InvalidInput(
            f"{path}: field {name!r} takes op {sorted(spec.ops)}, not {op!r}",
            code="invalid_segment_rule",
        )
    if spec.time_relative:
        ctx.time_relative = True
    try:
        return spec.compile(ctx, str(op), rule.get("value"))
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidInput(
            f"{path}: bad value for {name!r}: {exc}", code="invalid_segment_rule"
        ) from exc


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return int(value)


def local_today(ctx: Context) -> datetime:
    return ctx.now.astimezone(ZoneInfo(ctx.timezone))


def days_ago(ctx: Context, days: int) -> datetime:
    return ctx.now - timedelta(days=days)


# Fields over the member row ------------------------------------------------------------------

_PROFILE_COLUMNS: dict[str, tuple[Any, ValueKind]] = {
    "first_name": (Member.first_name, ValueKind.TEXT),
    "last_name": (Member.last_name, ValueKind.TEXT),
    "gender": (Member.gender, ValueKind.CHOICE),
    "locale": (Member.locale, ValueKind.CHOICE),
    "funnel_stage": (Member.funnel_stage, ValueKind.CHOICE),
    "source": (Member.source, ValueKind.CHOICE),
    "home_store_id": (Member.home_store_id, ValueKind.CHOICE),
    "orders_count": (Member.orders_count, ValueKind.COUNT),
    "total_spent_minor": (Member.total_spent_minor, ValueKind.MONEY),
    "engagement_score": (Member.engagement_score, ValueKind.COUNT),
}


def _profile(column: Any) -> FieldCompiler:
    return lambda _ctx, op, value: compare(column, op, value)


for _name, (_column, _kind) in _PROFILE_COLUMNS.items():
    register_field(_name, COMPARE, f"member {_name.replace('_', ' ')}", kind=_kind)(
        _profile(_column)
    )


@register_field("city", COMPARE, "city of the member's address")
def _city(_ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    return compare(Member.address["city"].as_string(), op, value)


@register_field(
    "has_contact", {"eq"}, "has a phone / email: value 'phone' or 'email'", kind=ValueKind.CHOICE
)
def _has_contact(_ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    column = {"phone": Member.phone, "email": Member.email}[value]
    return column.is_not(None)


@register_field(
    "registered", {"eq"}, "registered in the loyalty program (true/false)", kind=ValueKind.YES_NO
)
def _registered(_ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return Member.registered_at.is_not(None) if value else Member.registered_at.is_(None)


def _days_since(column: Any) -> FieldCompiler:
    """``N days ago`` comparisons: 'last order more than 90 days ago' is op gt, value 90."""

    def build(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
        if op == "between":
            low, high = (_number(v) for v in value)
            return and_(column <= days_ago(ctx, low), column >= days_ago(ctx, high))
        n = _number(value)
        cutoff = days_ago(ctx, n)
        flipped = {
            "gt": column < cutoff,
            "gte": column <= cutoff,
            "lt": column > cutoff,
            "lte": column >= cutoff,
        }
        return and_(column.is_not(None), flipped[op])

    return build


_DATE_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("last_order_days_ago", Member.last_order_at, "days since the last purchase"),
    ("first_order_days_ago", Member.first_order_at, "days since the first purchase"),
    ("registered_days_ago", Member.registered_at, "days since registration"),
)
for _name, _date_column, _label in _DATE_FIELDS:
    register_field(
        _name,
        {"gt", "gte", "lt", "lte", "between"},
        _label,
        time_relative=True,
        kind=ValueKind.DAYS,
    )(_days_since(_date_column))


@register_field(
    "no_order_for_days",
    {"gte"},
    "no purchase in the last N days (incl. never bought)",
    time_relative=True,
    kind=ValueKind.DAYS,
)
def _no_order(ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    return or_(Member.last_order_at.is_(None), Member.last_order_at < days_ago(ctx, _number(value)))


@register_field("tag", {"has", "has_not"}, "has (or lacks) a tag", kind=ValueKind.TAG)
def _tag(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, str):
        raise ValueError("a tag")
    has = Member.id.in_(
        select(MemberTag.member_id).where(
            MemberTag.merchant_id == ctx.merchant_id, MemberTag.tag == value
        )
    )
    return has if op == "has" else not_(has)


@register_field(
    "preference",
    {"has", "has_not"},
    "likes a category/style/colour: {kind, value}",
    kind=ValueKind.OBJECT,
)
def _preference(_ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    kind, liked = value["kind"], value["value"]
    if kind not in {"categories", "styles", "colours"}:
        raise ValueError("kind is categories, styles or colours")
    has = has_in_json_array(Member.preferences, kind, str(liked))
    return has if op == "has" else not_(has)


@register_field(
    "consent", {"granted", "not_granted"}, "consent for {channel, topic}", kind=ValueKind.OBJECT
)
def _consent(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    channel, topic = value["channel"], value.get("topic", "marketing")
    granted = Member.id.in_(
        select(MemberConsent.member_id).where(
            MemberConsent.merchant_id == ctx.merchant_id,
            MemberConsent.channel == channel,
            MemberConsent.topic == topic,
            MemberConsent.granted.is_(True),
        )
    )
    return granted if op == "granted" else not_(granted)


@register_field(
    "birthday_within_days",
    {"lte"},
    "birthday in the next N days (merchant calendar)",
    time_relative=True,
    kind=ValueKind.DAYS,
)
def _birthday(ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    days = _number(value)
    if not 0 <= days <= 366:
        raise ValueError("0 to 366 days")
    today = local_today(ctx).date()
    wanted = sorted({(today + timedelta(days=d)).strftime("%m-%d") for d in range(days + 1)})
    if "02-28" in wanted and "03-01" in wanted:
        wanted.append("02-29")  # Feb 29 birthdays are celebrated in common years too
    return and_(Member.birthday.is_not(None), month_day(Member.birthday).in_(wanted))


# Fields over orders ---------------------------------------------------------------------------


def _orders_since(ctx: Context, days: int | None) -> Any:
    cond = [
        Order.member_id == Member.id,
        Order.merchant_id == ctx.merchant_id,
        Order.status.in_(COUNTED),
    ]
    if days is not None:
        cond.append(Order.placed_at >= days_ago(ctx, days))
    return cond


def _buyers(ctx: Context, days: int | None, line_matches: ColumnElement[bool]) -> Any:
    """Members who bought a matching line (in the last ``days``), as ``member_id IN (…)``.

    An uncorrelated IN lets the database start from the few matching orders (an index range
    on merchant + placed_at) instead of probing every member's orders; see docs/benchmarks.md
    "Segments". ``member_id IS NOT NULL`` keeps ``NOT IN`` correct (anonymous orders).
    """
    cond = [
        Order.merchant_id == ctx.merchant_id,
        Order.member_id.is_not(None),
        Order.status.in_(COUNTED),
    ]
    if days is not None:
        cond.append(Order.placed_at >= days_ago(ctx, days))
    return (
        select(Order.member_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(line_matches, *cond)
    )


@register_field(
    "bought_category",
    {"within_days", "ever"},
    "bought category X: {category, days}",
    time_relative=True,
    kind=ValueKind.OBJECT,
)
def _bought_category(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    days = _number(value["days"]) if op == "within_days" else None
    return Member.id.in_(_buyers(ctx, days, OrderLine.category == value["category"]))


@register_field(
    "bought_sku",
    {"within_days", "ever"},
    "bought product X: {sku, days}",
    time_relative=True,
    kind=ValueKind.OBJECT,
)
def _bought_sku(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    days = _number(value["days"]) if op == "within_days" else None
    return Member.id.in_(_buyers(ctx, days, OrderLine.sku == value["sku"]))


@register_field(
    "orders_within_days",
    COMPARE - {"in", "not_in"},
    "purchases in the last N days: {days, count}",
    time_relative=True,
    kind=ValueKind.OBJECT,
)
def _orders_within(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    count = (
        select(func.count()).where(*_orders_since(ctx, _number(value["days"]))).scalar_subquery()
    )
    return compare(count, op, value["count"])


@register_field(
    "spend_within_days",
    COMPARE - {"in", "not_in"},
    "net spend (minor units) in the last N days: {days, amount}",
    time_relative=True,
    kind=ValueKind.OBJECT,
)
def _spend_within(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    spend = (
        select(func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0))
        .where(*_orders_since(ctx, _number(value["days"])))
        .scalar_subquery()
    )
    return compare(spend, op, value["amount"])


@register_field("everyone", {"eq"}, "every member (value true)", kind=ValueKind.NONE)
def _everyone(_ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    return true() if value is True else false()
