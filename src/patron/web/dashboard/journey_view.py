"""Journeys in merchant words: triggers and steps described, per-step statistics, the library's
switch-on parameters, and a step's edit form turned back into the step's JSON.

Descriptions are English msgids marked with ``N_`` and translated by the caller's ``tr``, so the
catalogue test sees every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput
from patron.coupons.models import CouponTemplate
from patron.engagement.models import MessageTemplate
from patron.engagement.segments.models import Segment
from patron.engagement.templates import (
    CHANNEL_FIELDS,
    LOCALES,
    SCHEMA,
    RenderFailed,
    choose_locale,
    render_variant,
)
from patron.i18n import N_
from patron.i18n.labels import humanise
from patron.web.dashboard.segment_text import Reader, Said, describe
from patron.web.dashboard.segment_words import op_words

Tr = Callable[..., str]

FESTIVAL_NAMES = {
    "spring_festival": N_("Spring Festival"),
    "lantern": N_("Lantern Festival"),
    "qingming": N_("Qingming"),
    "dragon_boat": N_("Dragon Boat Festival"),
    "mid_autumn": N_("Mid-Autumn Festival"),
    "national_day": N_("National Day"),
    "new_year": N_("New Year's Day"),
    "valentines": N_("Valentine's Day"),
    "mothers_day": N_("Mother's Day"),
    "fathers_day": N_("Father's Day"),
    "halloween": N_("Halloween"),
    "christmas_eve": N_("Christmas Eve"),
    "christmas": N_("Christmas Day"),
}
LIBRARY_TEXT = {
    "welcome": (N_("Welcome series"), N_("Three messages over a new member's first week.")),
    "after_sales": (
        N_("After-sales care"),
        N_("Days after a purchase: how is it going, then a review request; once a month at most."),
    ),
    "birthday": (N_("Birthday greeting"), N_("On the member's birthday in their time zone.")),
    "festival": (N_("Festival greeting"), N_("Chinese and Western festivals, lunar dates too.")),
    "win_back": (N_("Win-back"), N_("Members who enter a sleeping segment; ends on purchase.")),
    "points_expiring": (N_("Points expiring reminder"), N_("When points are about to expire.")),
    "tier_up": (N_("Tier up congratulation"), N_("When a member moves up a tier.")),
    "top_up_reminder": (
        N_("Top-up balance reminder"),
        N_("Members who enter a low-balance segment."),
    ),
    "promotion": (
        N_("Preference-matched promotion"),
        N_("Tell members who like a product's category or tags."),
    ),
}
# Which switch-on fields each library journey asks for (see journeys/library.py).
LIBRARY_FIELDS: dict[str, tuple[str, ...]] = {
    "welcome": ("days",),
    "after_sales": ("days",),
    "birthday": ("coupon_template_id",),
    "festival": ("festival", "days_before", "coupon_template_id"),
    "win_back": ("segment_id", "coupon_template_id"),
    "points_expiring": ("coupon_template_id",),
    "tier_up": ("coupon_template_id",),
    "top_up_reminder": ("segment_id",),
    "promotion": (),
}
STEP_KINDS = {
    "wait": N_("Wait"),
    "branch": N_("Condition"),
    "send": N_("Send"),
    "coupon": N_("Coupon"),
    "points": N_("Points"),
    "tag": N_("Tag"),
    "exit": N_("Exit"),
}
SKIP_REASONS = {
    "missed window": N_("missed window"),
    "made a purchase": N_("made a purchase"),
    "exit rules hold": N_("exit rules hold"),
    "exit step": N_("exit step"),
}


def _int(text: str, what: str, *, minimum: int = 0, required: bool = True) -> int | None:
    text = text.strip()
    if not text:
        if required:
            raise InvalidInput(f"{what}: a whole number is needed", code="invalid_number")
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{what}: {text!r} is not a whole number", code="invalid_number"
        ) from exc
    if value < minimum:
        raise InvalidInput(f"{what}: at least {minimum}", code="invalid_number")
    return value


def library_params(key: str, form: dict[str, str]) -> dict[str, Any]:
    """The switch-on form's values as the library journey's parameters."""
    params: dict[str, Any] = {}
    for name in LIBRARY_FIELDS.get(key, ()):
        raw = form.get(name, "")
        if name == "festival":
            params[name] = raw or "mid_autumn"
        elif name == "segment_id":
            segment = _int(raw, "segment", minimum=1)
            if key == "top_up_reminder":
                params["filter"] = {"segment_id": segment}
            else:
                params[name] = segment
        elif name == "coupon_template_id":
            params[name] = _int(raw, "coupon", minimum=1, required=False)
        else:
            value = _int(raw, name, required=False)
            if value is not None:
                params[name] = value
    return params


def describe_trigger(trigger: dict[str, Any], tr: Tr, names: dict[int, str]) -> str:
    """The journey's trigger in a merchant's words."""
    event = trigger.get("event")
    filters = trigger.get("filter") or {}
    if event == "order.created":
        return tr(N_("When a member places an order"))
    if event == "member.created":
        return tr(N_("When a member registers"))
    if event == "segment.entered":
        name = names.get(int(filters.get("segment_id") or 0), "—")
        return tr(N_("When a member enters the segment %(segment)s"), segment=name)
    if event == "tier.changed":
        return tr(N_("When a member moves up a tier"))
    if event == "points.expiring_soon":
        return tr(N_("When a member's points are about to expire"))
    if event:
        return tr(N_("When %(event)s happens"), event=humanise(str(event)).lower())
    if trigger.get("date") == "birthday":
        return tr(N_("On the member's birthday, in their time zone"))
    if trigger.get("date") == "festival":
        festival = tr(FESTIVAL_NAMES.get(trigger.get("festival", ""), trigger.get("festival", "")))
        days = int(trigger.get("days_before") or 0)
        if days:
            return tr(N_("%(n)s days before %(festival)s"), n=days, festival=festival)
        return tr(N_("On %(festival)s"), festival=festival)
    return tr(N_("When you promote a product: members who like its category or tags"))


def _duration(step: dict[str, Any], tr: Tr) -> str:
    parts = []
    for key, msg in (
        ("days", N_("%(n)s days")),
        ("hours", N_("%(n)s hours")),
        ("minutes", N_("%(n)s minutes")),
    ):
        if step.get(key):
            parts.append(tr(msg, n=step[key]))
    return " ".join(parts) or "0"


CHANNEL_NAMES = {
    "email": N_("Email"),
    "sms": N_("SMS"),
    "whatsapp": N_("WhatsApp"),
    "wechat": N_("WeChat"),
    "in_app": N_("In-app"),
}
# What a variable stands for, shown in its place in a step's title ("Welcome, [First name]").
VARIABLE_NAMES = {
    ("member", "first_name"): N_("First name"),
    ("member", "last_name"): N_("Last name"),
    ("member", "display_name"): N_("Member's name"),
    ("member", "greeting_name"): N_("Greeting name"),
    ("merchant", "name"): N_("Shop name"),
    ("tier", "name"): N_("Tier"),
    ("balance", "points"): N_("Points balance"),
    ("balance", "points_expiring"): N_("Points expiring"),
    ("coupon", "title"): N_("Coupon"),
    ("coupon", "code"): N_("Coupon code"),
    ("coupon", "value"): N_("Coupon value"),
    ("product", "name"): N_("Product name"),
    ("product", "price"): N_("Price"),
}
_VARIABLE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def placeholders(tr: Tr) -> dict[str, dict[str, str]]:
    """Every template variable as the words it stands for, in brackets."""
    return {
        var: {
            attr: tr(N_("[%(name)s]"), name=tr(VARIABLE_NAMES.get((var, attr), humanise(attr))))
            for attr in attrs
        }
        for var, attrs in SCHEMA.items()
    }


def content_title(content: dict[str, Any], tr: Tr, locale: str) -> str:
    """The title (or subject, or first words) of inline content in the reader's language, its
    variables shown as the words they stand for — never template syntax."""
    if not content:
        return ""
    variant: dict[str, Any] = content[choose_locale(content, locale, None)]
    for field in ("title", "subject", "body", "template_name"):
        text = variant.get(field)
        if isinstance(text, str) and text.strip():
            try:
                shown = str(render_variant({field: text}, placeholders(tr))[field])
            except RenderFailed:
                shown = _VARIABLE.sub("…", text)
            return shown if len(shown) <= 80 else shown[:79] + "…"
    return ""


def describe_step(step: dict[str, Any], tr: Tr, names: dict[str, Any], locale: str = "en") -> str:
    """One step in a merchant's words (never its id, never template syntax)."""
    kind = step["type"]
    if kind == "wait":
        if "until_time" in step:
            return tr(N_("Wait until %(time)s, member's local time"), time=step["until_time"])
        if "until_date" in step:
            return tr(
                N_("Wait until the birthday (%(offset)s days from it) at %(time)s"),
                offset=step.get("offset_days", 0),
                time=step.get("at", "09:00"),
            )
        return tr(N_("Wait %(duration)s"), duration=_duration(step, tr))
    if kind == "branch":
        return tr(
            N_("If the condition holds go to %(then)s, otherwise to %(other)s"),
            then=step_name(step.get("then"), tr, names),
            other=step_name(step.get("else"), tr, names),
        )
    if kind == "send":
        if step.get("template_id") is not None:
            title = names["templates"].get(int(step["template_id"]), "—")
        else:
            title = content_title(step.get("content") or {}, tr, locale)
        channel = str(step.get("channel", ""))
        return tr(
            N_("Send %(what)s (%(channel)s)"),
            what=tr(N_("“%(text)s”"), text=title),
            channel=tr(CHANNEL_NAMES.get(channel, humanise(channel))),
        )
    if kind == "coupon":
        name = names["coupons"].get(int(step.get("template_id") or 0), "—")
        return tr(N_("Give the coupon %(name)s"), name=name)
    if kind == "points":
        return tr(N_("Give %(n)s points"), n=step.get("points"))
    if kind == "tag":
        if step.get("add"):
            return tr(N_("Add the tag %(tag)s"), tag=step["add"])
        return tr(N_("Remove the tag %(tag)s"), tag=step.get("remove"))
    return tr(N_("Leave the journey"))


def describe_exit(rule: dict[str, Any] | None, tr: Tr) -> str:
    if not rule:
        return tr(N_("Members go through every step."))
    if rule.get("purchase") and rule.get("rules"):
        return tr(N_("Members leave when they buy or match the exit rules."))
    if rule.get("purchase"):
        return tr(N_("Members leave as soon as they buy."))
    return tr(N_("Members leave when they match the exit rules."))


def step_name(step_id: Any, tr: Tr, names: dict[str, Any]) -> str:
    """A step as the merchant knows it: "step 3" (its place in the journey), never its id."""
    number = names.get("steps", {}).get(step_id)
    if number is None:
        return tr(N_("the next step")) if not step_id else tr(N_("a step of an earlier version"))
    return tr(N_("step %(n)s"), n=number)


def step_places(
    steps: list[dict[str, Any]], tr: Tr, names: dict[str, Any], locale: str
) -> dict[str, str]:
    """Each step's id → "Step 3: Send “How is it going?” (In-app)", for lists and choices."""
    return {
        step["id"]: tr(
            N_("Step %(n)s: %(what)s"), n=number, what=describe_step(step, tr, names, locale)
        )
        for number, step in enumerate(steps, start=1)
    }


def describe_condition(condition: Any, tr: Tr, reader: Reader | None) -> Said | None:
    """A branch's condition in words: segment rules as the segment pages say them, a test on
    what started the journey as "what started the journey: total at least 100"."""
    if not isinstance(condition, dict):
        return None
    if "rules" in condition and reader is not None:
        return describe(condition["rules"], reader)
    test = condition.get("event") or {}
    return Said(
        tr(
            N_("What started the journey: %(field)s %(op)s %(value)s"),
            field=humanise(str(test.get("field", ""))).lower(),
            op=tr(op_words("compare", str(test.get("op", "eq")))[0]),
            value=str(test.get("value", "")),
        )
    )


def names_for(session: Session, merchant_id: int, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Names of the templates, coupons and segments the steps and trigger refer to, and each
    step's place in the journey."""

    def named(model: Any) -> dict[int, str]:
        rows = session.execute(select(model.id, model.name).where(model.merchant_id == merchant_id))
        return {int(i): str(n) for i, n in rows.all()}

    return {
        "templates": named(MessageTemplate),
        "coupons": named(CouponTemplate),
        "segments": named(Segment),
        "steps": {step["id"]: number for number, step in enumerate(steps, start=1)},
    }


def step_stats(stats: dict[str, Any], step_id: str) -> dict[str, int]:
    """Entered, completed, exited, skipped (missed window / other) and waiting now."""
    outcomes = stats["steps"].get(step_id, {})
    reasons = stats.get("reasons", {}).get(step_id, {})
    missed = reasons.get("missed window", 0)
    return {
        "entered": sum(outcomes.values()),
        "completed": outcomes.get("done", 0) + outcomes.get("waited", 0),
        "exited": outcomes.get("exit", 0),
        "missed": missed,
        "skipped": outcomes.get("skipped", 0) - missed,
        "waiting": stats["waiting_at"].get(step_id, 0),
    }


def content_fields(channel: str) -> tuple[str, ...]:
    """Fields of inline content the step form edits (text fields only)."""
    if channel in ("email", "sms", "in_app"):
        return CHANNEL_FIELDS[channel]
    return ()


def parse_step(step: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The edited step: the form's fields over the current step (checked again by the service)."""
    kind = step["type"]
    new: dict[str, Any] = {"id": step["id"], "type": kind}
    if kind == "wait":
        mode = form.get("mode", "duration")
        if mode == "until_time":
            new["until_time"] = form.get("until_time", "").strip()
        elif mode == "until_date":
            new |= {"until_date": "birthday", "at": form.get("at", "09:00").strip() or "09:00"}
            new["offset_days"] = _int(
                form.get("offset_days", "0") or "0", "offset_days", minimum=-366
            )
        else:
            for key in ("days", "hours", "minutes"):
                value = _int(form.get(key, ""), key, minimum=-(10**6), required=False)
                if value:
                    new[key] = value
    elif kind == "send":
        new |= _parse_send(step, form)
    elif kind == "coupon":
        new["template_id"] = _int(form.get("template_id", ""), "coupon", minimum=1)
    elif kind == "points":
        new["points"] = _int(form.get("points", ""), "points", minimum=-(10**9))
    elif kind == "tag":
        action = "remove" if form.get("action") == "remove" else "add"
        new[action] = form.get("tag", "").strip() or None
    elif kind == "branch":
        new["if"] = step.get("if")
        for key in ("then", "else"):
            if form.get(key):
                new[key] = form[key]
    return new


def _parse_send(step: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    channel = form.get("channel", step.get("channel", "in_app"))
    new: dict[str, Any] = {
        "channel": channel,
        "topic": form.get("topic", "").strip() or step.get("topic", "marketing"),
        "kind": form.get("kind", step.get("kind", "marketing")),
    }
    template = _int(form.get("template_id", ""), "template", minimum=1, required=False)
    if template is not None:
        new["template_id"] = template
        return new
    content: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        variant = {f: form.get(f"{locale}.{f}", "") for f in content_fields(channel)}
        if any(v.strip() for v in variant.values()):
            content[locale] = variant
    new["content"] = content or step.get("content")
    return new
