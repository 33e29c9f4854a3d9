"""Tiers from growth earned (never from a spendable balance): upgrade at once, keep or
downgrade at the end of each evaluation period, and re-evaluate after refunds (ADR 0352)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime
from patron.core.events import emit, register_event_types
from patron.ledger.merge import MERGE_REASON
from patron.ledger.models import Asset, JournalEntry, LedgerAccount, Posting
from patron.members.models import Member
from patron.programs.calendar import add_months, merchant_zone, months_before
from patron.programs.config import Tier, TiersConfig
from patron.programs.models import MemberTier, TierChange
from patron.programs.rules import RuleInForce, tiers_rule

register_event_types("tier.changed")


def growth_earned(session: Session, merchant_id: int, member_id: int, since: datetime) -> int:
    """Sum of the member's growth postings (earnings less refunds) since ``since``.

    Growth of members merged into this one counts where and when it was earned; the
    ``member_merge`` entries that moved their balances are left out (ADR 0371)."""
    total = session.scalar(_GROWTH_SINCE, {"m": merchant_id, "mem": member_id, "since": since})
    return int(total or 0)


# Built once (every purchase re-evaluates the tier): building costs more than running.
_OWNERS = select(Member.id).where(
    Member.merchant_id == bindparam("m"),
    or_(Member.id == bindparam("mem"), Member.merged_into_id == bindparam("mem")),
)
_GROWTH_SINCE = (
    select(func.coalesce(func.sum(Posting.amount), 0))
    .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
    .join(JournalEntry, JournalEntry.id == Posting.entry_id)
    .where(
        LedgerAccount.merchant_id == bindparam("m"),
        LedgerAccount.member_id.in_(_OWNERS),
        LedgerAccount.code == Asset.GROWTH.value,
        JournalEntry.occurred_at >= bindparam("since", type_=UTCDateTime()),
        JournalEntry.reason_code != MERGE_REASON,
    )
)


def qualifying_tier(cfg: TiersConfig, growth: int) -> Tier:
    """The highest tier reached; the lowest if the window's growth is below every threshold
    (negative, when a refund inside the window takes back growth earned before it)."""
    reached = [t for t in cfg.tiers if t.threshold <= growth]
    return reached[-1] if reached else cfg.tiers[0]


def tier_rank(cfg: TiersConfig, code: str | None) -> int:
    """The tier's place in the ladder (0: the lowest, also for no or an unknown tier)."""
    codes = [t.code for t in cfg.tiers]
    return codes.index(code) if code in codes else 0


def tier_of(cfg: TiersConfig, code: str | None) -> Tier:
    return cfg.tiers[tier_rank(cfg, code)]


_TIER_ROWS = "patron.member_tiers"  # session.info: (merchant, member) -> MemberTier found


def member_tier(session: Session, merchant_id: int, member_id: int) -> MemberTier | None:
    """The member's tier row; a purchase asks up to five times, so a row found is kept for the
    session — and used only while it is still in the session and still this member's (a rolled
    back savepoint expunges a new row; a merge hands a row to another member)."""
    cache: dict[tuple[int, int], MemberTier] = session.info.setdefault(_TIER_ROWS, {})
    row = cache.get((merchant_id, member_id))
    if row is not None and row in session:
        try:
            if row.member_id == member_id:
                return row
        except ObjectDeletedError:  # expired by a commit, then deleted by a merge elsewhere
            pass
    row = session.scalar(
        select(MemberTier).where(
            MemberTier.merchant_id == merchant_id, MemberTier.member_id == member_id
        )
    )
    if row is not None:
        cache[(merchant_id, member_id)] = row
    return row


def window_growth(
    session: Session,
    rule: RuleInForce[TiersConfig],
    merchant_id: int,
    member_id: int,
    zone: ZoneInfo | None = None,
) -> int:
    now = utcnow(session)
    zone = zone or merchant_zone(session, merchant_id)
    since = months_before(now, rule.config.window_months, zone)
    return growth_earned(session, merchant_id, member_id, since)


def _change(
    session: Session,
    row: MemberTier,
    to: Tier,
    reason: str,
    growth: int,
    rule: RuleInForce[TiersConfig],
) -> None:
    now = utcnow(session)
    session.add(
        TierChange(
            merchant_id=row.merchant_id,
            member_id=row.member_id,
            from_code=row.tier_code,
            to_code=to.code,
            reason=reason,
            growth=growth,
            rule_version=rule.version,
            changed_at=now,
        )
    )
    direction = (
        "up" if tier_rank(rule.config, to.code) > tier_rank(rule.config, row.tier_code) else "down"
    )
    emit(
        session,
        row.merchant_id,
        "tier.changed",
        {
            "member_id": row.member_id,
            "from": row.tier_code,
            "to": to.code,
            "direction": direction,
            "reason": reason,
            "growth": growth,
            "rule_version": rule.tag,
        },
        subject_id=row.member_id,
    )
    row.tier_code = to.code
    row.since = now
    row.rule_version = rule.version


def reevaluate(
    session: Session,
    merchant_id: int,
    member_id: int,
    reason: str,
    in_force: tuple[RuleInForce[TiersConfig] | None, ZoneInfo] | None = None,
) -> MemberTier | None:
    """After growth changed: upgrade as soon as a threshold is met; after a refund go down,
    but never below the tier kept at the last evaluation (``floor_code``). ``in_force``: the
    tiers rule in force now and the merchant's zone, when the caller holds them already."""
    rule, zone = in_force or (tiers_rule(session, merchant_id, utcnow(session)), None)
    if rule is None:
        return None
    cfg = rule.config
    growth = window_growth(session, rule, merchant_id, member_id, zone)
    target = qualifying_tier(cfg, growth)
    row = member_tier(session, merchant_id, member_id)
    now = utcnow(session)
    if row is None:
        entry = cfg.tiers[0]
        row = MemberTier(
            merchant_id=merchant_id,
            member_id=member_id,
            tier_code=entry.code,
            floor_code=entry.code,
            since=now,
            evaluated_at=now,
            rule_version=rule.version,
        )
        session.add(row)
        session.flush()
    if tier_rank(cfg, row.floor_code) > tier_rank(cfg, target.code):
        target = tier_of(cfg, row.floor_code)
    if target.code != row.tier_code:
        _change(session, row, target, reason, growth, rule)
    session.flush()
    return row


def evaluate_period(session: Session, merchant_id: int, member_id: int) -> MemberTier | None:
    """At the end of an evaluation period: the tier becomes what the window's growth earns
    (kept, raised or lowered) and is kept until the next evaluation."""
    rule = tiers_rule(session, merchant_id, utcnow(session))
    row = member_tier(session, merchant_id, member_id)
    if rule is None or row is None:
        return row
    growth = window_growth(session, rule, merchant_id, member_id)
    target = qualifying_tier(rule.config, growth)
    if target.code != row.tier_code:
        _change(session, row, target, "evaluation period ended", growth, rule)
    row.floor_code = target.code
    row.evaluated_at = utcnow(session)
    session.flush()
    return row


def due_for_evaluation(session: Session, limit: int = 500) -> list[tuple[int, int]]:
    """(merchant, member) pairs whose evaluation period has ended."""
    now = utcnow(session)
    rows = session.execute(
        select(MemberTier.merchant_id, MemberTier.member_id, MemberTier.evaluated_at)
        .order_by(MemberTier.evaluated_at)
        .limit(limit * 4)
    ).all()
    due: list[tuple[int, int]] = []
    rules: dict[int, RuleInForce[TiersConfig] | None] = {}
    zones: dict[int, ZoneInfo] = {}  # one look-up per merchant, not per member
    for merchant_id, member_id, evaluated_at in rows:
        if merchant_id not in rules:
            rules[merchant_id] = tiers_rule(session, merchant_id, now)
            zones[merchant_id] = merchant_zone(session, merchant_id)
        rule = rules[merchant_id]
        if rule is None:
            continue
        zone = zones[merchant_id]
        local = evaluated_at.astimezone(zone).date()
        if add_months(local, rule.config.evaluation_months) <= now.astimezone(zone).date():
            due.append((merchant_id, member_id))
    return due[:limit]


def tier_history(session: Session, merchant_id: int, member_id: int) -> list[TierChange]:
    return list(
        session.scalars(
            select(TierChange)
            .where(TierChange.merchant_id == merchant_id, TierChange.member_id == member_id)
            .order_by(TierChange.id.desc())
        )
    )
