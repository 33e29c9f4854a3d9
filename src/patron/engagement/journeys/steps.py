"""Journey steps: their shape (checked when a journey is saved) and what each one does.

A step is a JSON object with an ``id`` (unique in the journey) and a ``type``:

- ``wait``: ``{"days", "hours", "minutes"}`` a duration; or ``{"until_time": "10:00"}`` the next
  such local time; or ``{"until_date": "birthday", "offset_days": 0, "at": "09:00"}`` the next
  time that date of the member comes round. Measured from when the wait step actually runs.
- ``branch``: ``{"if": condition, "then": step id, "else": step id}`` (a missing target means the
  next step); a condition is ``{"rules": segment rules}`` for the one member or ``{"event":
  {"field", "op", "value"}}`` on the payload that entered the member.
- ``send``: ``{"channel", "template_id" | "content", "topic", "kind"}``; the topic is one of the
  merchant's consent topics (default ``marketing``, the general one).
- ``coupon``: ``{"template_id"}``; ``points``: ``{"points"}``; ``tag``: ``{"add" | "remove"}``.
- ``exit``: leave the journey.

Executing a step returns an :class:`Outcome`; the engine records it and moves on. Every effect
is keyed by (enrolment, step) so re-running a step after a crash cannot repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from patron.core.errors import InvalidInput, NotFound, PatronError
from patron.core.member_fields import Context
from patron.engagement import grants
from patron.engagement.channels import get_channel
from patron.engagement.messages import KINDS, enqueue_message
from patron.engagement.segments.rules import compile_rule
from patron.engagement.templates import validate_variants
from patron.members import lunar, topics
from patron.members import service as members
from patron.members.models import Member
from patron.members.topics import GENERAL
from patron.tenancy.models import Merchant

TYPES = {"wait", "branch", "send", "coupon", "points", "tag", "exit"}
MESSAGE_CONTEXT = ("coupon", "product", "tier", "balance", "links")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
}


@dataclass
class Outcome:
    outcome: str  # done | waited | skipped | exit
    reason: str | None = None
    goto: str | None = None  # the next step id (None: the following step)
    run_at: datetime | None = None  # when the next step is due (None: now)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepRun:
    """What a step needs: the session, the enrolment's identity and the time."""

    session: Session
    merchant_id: int
    member: Member
    enrolment_id: int
    context: dict[str, Any]
    now: datetime
    due_at: datetime
    send_window: timedelta


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_journey_step")


def _hhmm(value: Any, where: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise _invalid(f"{where}: a time like 09:30") from exc


def validate_steps(session: Session, merchant_id: int, steps: Any) -> None:
    """Refuse a journey whose steps cannot run (saved journeys never fail on their shape)."""
    if not isinstance(steps, list) or not steps:
        raise _invalid("steps: a non-empty list")
    ids = [s.get("id") if isinstance(s, dict) else None for s in steps]
    if any(not isinstance(i, str) or not i or len(i) > 40 for i in ids) or len(set(ids)) != len(
        ids
    ):
        raise _invalid("every step needs a unique id (1 to 40 characters)")
    for step in steps:
        where = f"step {step['id']}"
        kind = step.get("type")
        if kind not in TYPES:
            raise _invalid(f"{where}: type must be one of {sorted(TYPES)}")
        if kind == "branch":
            for target in (step.get("then"), step.get("else")):
                if target is not None and target not in ids:
                    raise _invalid(f"{where}: no step {target!r}")
            if not isinstance(step.get("if"), dict):
                raise _invalid(f"{where}: 'if' is a condition")
        elif kind == "send":
            _validate_send(session, merchant_id, step, where)
        elif kind == "wait":
            if "until_time" in step:
                _hhmm(step["until_time"], where)
            elif "until_date" in step:
                if step["until_date"] != "birthday":
                    raise _invalid(f"{where}: until_date can be 'birthday'")
            elif not any(isinstance(step.get(k), int) for k in ("days", "hours", "minutes")):
                raise _invalid(f"{where}: a wait needs days/hours/minutes or until_time")
            elif any(
                not isinstance(step.get(k, 0), int) or step.get(k, 0) < 0
                for k in ("days", "hours", "minutes")
            ):
                raise _invalid(f"{where}: days, hours and minutes are whole numbers, 0 or more")
        elif kind == "points" and not (isinstance(step.get("points"), int) and step["points"] > 0):
            raise _invalid(f"{where}: points must be a positive whole number")
        elif kind == "coupon" and not isinstance(step.get("template_id"), int):
            raise _invalid(f"{where}: a coupon template_id")
        elif kind == "tag" and not isinstance(step.get("add") or step.get("remove"), str):
            raise _invalid(f"{where}: add or remove a tag")


def _validate_send(session: Session, merchant_id: int, step: dict[str, Any], where: str) -> None:
    get_channel(str(step.get("channel")))
    code = str(step.get("topic", GENERAL))
    if code not in topics.topic_codes(session, merchant_id):
        raise InvalidInput(
            f"{where}: unknown topic {code!r}: choose one of "
            f"{', '.join(topics.topic_codes(session, merchant_id))}",
            code="unknown_topic",
        )
    if step.get("kind", "marketing") not in KINDS:
        raise _invalid(f"{where}: kind must be one of {sorted(KINDS)}")
    if (step.get("template_id") is None) == (step.get("content") is None):
        raise _invalid(f"{where}: a template_id or a content")
    if step.get("content") is not None:
        validate_variants(str(step["channel"]), step["content"])


def member_zone(session: Session, member: Member) -> ZoneInfo:
    """The member's own time zone, else the merchant's."""
    if member.timezone:
        return ZoneInfo(member.timezone)
    merchant = session.get(Merchant, member.merchant_id)
    assert merchant is not None
    return ZoneInfo(merchant.timezone)


def rules_hold(
    session: Session, merchant_id: int, member_id: int, rules: Any, now: datetime
) -> bool:
    """Segment rules evaluated by the database for one member."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant not found", code="merchant_not_found")
    condition = compile_rule(Context(session, merchant_id, now, merchant.timezone), rules)
    return bool(session.scalar(select(exists().where(Member.id == member_id, condition))))


def condition_holds(run: StepRun, condition: dict[str, Any]) -> bool:
    if "rules" in condition:
        return rules_hold(run.session, run.merchant_id, run.member.id, condition["rules"], run.now)
    test = condition.get("event") or {}
    op = OPS.get(str(test.get("op", "eq")))
    if op is None:
        raise _invalid(f"unknown operator {test.get('op')!r}")
    return bool(op(run.context.get("event", {}).get(test.get("field")), test.get("value")))


def _next_local(now: datetime, zone: ZoneInfo, at: time, day: date | None = None) -> datetime:
    local = now.astimezone(zone)
    candidate = datetime.combine(day or local.date(), at, zone)
    if day is None and candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, zone)
    return candidate


def _next_birthday(today: date, birthday: date) -> date:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, birthday.month, birthday.day)
        except ValueError:  # 29 February in a common year: the 28th
            candidate = date(year, 2, 28)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable")


def run_wait(run: StepRun, step: dict[str, Any]) -> Outcome:
    zone = member_zone(run.session, run.member)
    if "until_time" in step:
        wake = _next_local(run.now, zone, _hhmm(step["until_time"], "until_time"))
    elif "until_date" in step:
        moon = lunar.lunar_of(run.session, run.member.merchant_id, run.member.id)
        if run.member.birthday is None and moon is None:
            return Outcome("skipped", reason="no date on the member")
        today = run.now.astimezone(zone).date()
        offset = timedelta(days=int(step.get("offset_days", 0)))
        if moon is not None:  # a lunar birthday is celebrated instead (ADR 1332)
            target = lunar.next_on_or_after(today - offset, moon) + offset
        else:
            assert run.member.birthday is not None
            target = _next_birthday(today - offset, run.member.birthday) + offset
        wake = max(
            run.now, _next_local(run.now, zone, _hhmm(step.get("at", "09:00"), "at"), target)
        )
    else:
        delta = timedelta(
            days=step.get("days", 0), hours=step.get("hours", 0), minutes=step.get("minutes", 0)
        )
        wake = run.now + delta
    return Outcome("waited", run_at=wake, detail={"until": wake.isoformat()})


def run_send(run: StepRun, step: dict[str, Any]) -> Outcome:
    if run.now - run.due_at > run.send_window:
        return Outcome("skipped", reason="missed window", detail={"due_at": run.due_at.isoformat()})
    context = {k: run.context[k] for k in MESSAGE_CONTEXT if k in run.context}
    message = enqueue_message(
        run.session,
        run.merchant_id,
        run.member.id,
        str(step["channel"]),
        topic=str(step.get("topic", GENERAL)),
        kind=str(step.get("kind", "marketing")),
        dedupe_key=f"journey:{run.enrolment_id}:{step['id']}",
        template_id=step.get("template_id"),
        content=step.get("content"),
        context=context,
    )
    return Outcome("done", detail={"message_id": message.id})


def run_grant(run: StepRun, step: dict[str, Any]) -> Outcome:
    key = f"journey:{run.enrolment_id}:{step['id']}"
    try:
        if step["type"] == "coupon":
            given = grants.grant_coupons(
                run.session, run.merchant_id, int(step["template_id"]), [run.member.id], key
            )
            if run.member.id in given:
                run.context["coupon"] = given[run.member.id]  # later sends can show the code
            return Outcome("done", detail={"coupon": given.get(run.member.id, {}).get("code")})
        with run.session.begin_nested():
            grants.grant_points(
                run.session, run.merchant_id, run.member.id, int(step["points"]), key, "Gift"
            )
        return Outcome("done", detail={"points": step["points"]})
    except PatronError as exc:
        return Outcome("skipped", reason=exc.code)


def run_tag(run: StepRun, step: dict[str, Any]) -> Outcome:
    if step.get("add"):
        members.add_tags(run.session, run.merchant_id, run.member.id, [str(step["add"])])
        return Outcome("done", detail={"added": step["add"]})
    try:
        with run.session.begin_nested():
            members.remove_tag(run.session, run.merchant_id, run.member.id, str(step["remove"]))
    except NotFound:
        return Outcome("skipped", reason="tag not held")
    return Outcome("done", detail={"removed": step["remove"]})


def run_step(run: StepRun, step: dict[str, Any]) -> Outcome:
    """Do one step's effect in the caller's transaction."""
    kind = step["type"]
    if kind == "wait":
        return run_wait(run, step)
    if kind == "branch":
        taken = condition_holds(run, step["if"])
        return Outcome("done", goto=step.get("then" if taken else "else"), detail={"took": taken})
    if kind == "send":
        return run_send(run, step)
    if kind in ("coupon", "points"):
        return run_grant(run, step)
    if kind == "tag":
        return run_tag(run, step)
    return Outcome("exit", reason="exit step")
