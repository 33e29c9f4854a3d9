"""Coupons issued by events, and the coupon worker tasks.

The outbox consumer "coupons" (its own cursor in ``outbox_cursors``) reads:
- ``member.created`` of a registered member → templates with ``welcome``;
- ``tier.changed`` upwards → templates with ``tier_up`` (optionally only for some tiers);
- ``order.refunded`` of a fully refunded order → coupons used on it are restored.
Birthdays are not an event: a scheduled pass issues ``birthday`` templates to members whose
birthday is today in the merchant's time zone. Every automatic issue carries a reason key
(``welcome``, ``tier_up:gold``, ``birthday:2026``), unique per (template, member), so reading an
event twice — a crash before the cursor moved, two workers — never issues twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.events import OutboxEvent, consume_outbox
from patron.core.request_id import acting_for
from patron.core.sqlfn import month_day
from patron.coupons import refunds, service
from patron.coupons.models import CodeSource, CouponCode, CouponTemplate
from patron.members import lunar
from patron.members.models import Member
from patron.programs.models import MemberTier
from patron.programs.rules import tiers_rule
from patron.tenancy.models import Merchant

log = logging.getLogger("patron.coupons")
CURSOR = "coupons"
WATCHED = ("member.created", "tier.changed", "order.refunded")


def _templates_for(session: Session, merchant_id: int, trigger: str) -> list[CouponTemplate]:
    return [
        t
        for t in service.list_templates(session, merchant_id)
        if trigger in (t.auto_issue_on or [])
    ]


def issue_once(
    session: Session,
    template: CouponTemplate,
    member_id: int,
    source: CodeSource,
    reason_key: str,
) -> bool:
    """Issue under ``reason_key`` unless already given; a refusal (limit reached, template
    ended) is logged and skipped. Runs in a savepoint so a refusal undoes only itself."""
    given = session.scalar(
        select(
            exists().where(
                CouponCode.template_id == template.id,
                CouponCode.member_id == member_id,
                CouponCode.reason_key == reason_key,
            )
        )
    )
    if given:
        return False
    try:
        with session.begin_nested():
            service.issue_code(
                session,
                template.merchant_id,
                template.id,
                member_id,
                source=source,
                reason_key=reason_key,
                actor="system:coupons",
            )
    except IntegrityError:  # another worker issued it between our check and insert
        return False
    except PatronError as exc:
        log.info("automatic coupon not issued", extra={"template": template.id, "why": exc.code})
        return False
    return True


def _on_event(session: Session, event: OutboxEvent) -> None:
    payload: dict[str, Any] = event.payload
    if event.type == "member.created" and payload.get("registered_at"):
        for template in _templates_for(session, event.merchant_id, "welcome"):
            issue_once(session, template, int(payload["id"]), CodeSource.WELCOME, "welcome")
    elif event.type == "tier.changed" and payload.get("direction") == "up":
        tier = str(payload.get("to"))
        for template in _templates_for(session, event.merchant_id, "tier_up"):
            if not template.tier_codes or tier in template.tier_codes:
                member_id = int(payload["member_id"])
                issue_once(session, template, member_id, CodeSource.TIER_UP, f"tier_up:{tier}")
    elif event.type == "order.refunded" and refunds.refund_restores_coupons(
        str(payload.get("order_status"))
    ):
        refunds.restore_for_refund(session, event.merchant_id, int(payload["order_id"]))


def follow_events(session: Session, batch: int = 500) -> int:
    """Read the outbox past the "coupons" cursor and react. Returns how many events were read."""

    def handle(events: list[OutboxEvent]) -> None:
        for event in events:
            if event.type in WATCHED:
                with acting_for(event.request_id):
                    _on_event(session, event)

    return consume_outbox(session, CURSOR, handle, batch=batch)


def birthday_tiers(
    session: Session, merchant_id: int, template: CouponTemplate, at: datetime
) -> tuple[set[str], str] | None:
    """The tiers whose members get this birthday template, and the entry tier (members not yet
    evaluated are in it); None: every member.

    The tier setting's ``birthday_gift`` says which tiers have a birthday gift: once any tier
    has it, only those tiers get birthday templates (ADR 0357); the template's own
    ``tier_codes`` narrow it further. With no tier marked, every member gets them, as before."""
    rule = tiers_rule(session, merchant_id, at)
    if rule is None:
        return (set(template.tier_codes), "") if template.tier_codes else None
    codes = [t.code for t in rule.config.tiers]
    gifted = {t.code for t in rule.config.tiers if t.birthday_gift} or set(codes)
    if template.tier_codes:
        gifted &= set(template.tier_codes)
    if gifted == set(codes):
        return None
    return gifted, codes[0]


def issue_birthday_coupons(session: Session, now: datetime | None = None) -> int:
    """Issue every ``birthday`` template to registered members whose birthday is today in
    their merchant's calendar, once per year (reason key ``birthday:YYYY``), to the tiers that
    have a birthday gift (:func:`birthday_tiers`). Returns how many."""
    now = now or utcnow(session)
    templates = [
        t
        for t in session.scalars(select(CouponTemplate).where(CouponTemplate.status == "active"))
        if "birthday" in (t.auto_issue_on or [])
    ]
    issued = 0
    for template in templates:
        merchant = session.get(Merchant, template.merchant_id)
        assert merchant is not None
        today = now.astimezone(ZoneInfo(merchant.timezone)).date()
        wanted = [today.strftime("%m-%d")]
        if wanted == ["02-28"] and today.year % 4 != 0:
            wanted.append("02-29")  # Feb 29 birthdays are celebrated on Feb 28 in common years
        # Members with a lunar birthday are celebrated on it instead (ADR 1332), once per
        # lunar year.
        due = [
            (
                and_(
                    Member.birthday.is_not(None),
                    month_day(Member.birthday).in_(wanted),
                    lunar.no_lunar_birthday(),
                ),
                f"birthday:{today.year}",
            ),
            (lunar.due_condition(today), f"lunar-birthday:{lunar.lunar_year_of(today)}"),
        ]
        for condition, reason in due:
            issued += _issue_birthday(session, template, condition, reason, now)
    return issued


def _issue_birthday(
    session: Session,
    template: CouponTemplate,
    condition: ColumnElement[bool],
    reason: str,
    now: datetime,
) -> int:
    query = select(Member.id).where(
        Member.merchant_id == template.merchant_id,
        Member.registered_at.is_not(None),
        condition,
        ~exists().where(
            CouponCode.template_id == template.id,
            CouponCode.member_id == Member.id,
            CouponCode.reason_key == reason,
        ),
    )
    tiers = birthday_tiers(session, template.merchant_id, template, now)
    if tiers is not None:
        gifted, entry = tiers
        query = query.outerjoin(
            MemberTier,
            (MemberTier.merchant_id == Member.merchant_id) & (MemberTier.member_id == Member.id),
        ).where(func.coalesce(MemberTier.tier_code, entry).in_(sorted(gifted)))
    members = list(session.scalars(query))
    return sum(
        int(issue_once(session, template, member_id, CodeSource.BIRTHDAY, reason))
        for member_id in members
    )


# Worker tasks (registered in patron.worker.TASKS) ----------------------------------------------


def follow_events_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return follow_events(session)


def schedule_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    """Expire coupons past their end and issue today's birthday coupons."""
    with transaction(sessions) as session:
        return service.expire_due(session) + issue_birthday_coupons(session)
