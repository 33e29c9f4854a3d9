"""Coupon templates and codes: define, issue (one, bulk, on events), redeem, void, expire, restore.

Limits hold under concurrency without read-modify-write: the total issue limit is a conditional
``UPDATE coupon_templates SET issued_count = issued_count + n WHERE … issued_count + n <=
total_limit``, which also locks the template row until commit (PostgreSQL), so the per-member
count that follows is a *locked count*; redeeming is ``UPDATE coupon_codes … WHERE status =
'issued'`` and exactly one of any number of concurrent tills gets rowcount 1. Nothing here
commits: the edge owns the transaction, and a refused issue must roll it back (the caller's
savepoint or request).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from patron.core.events import OutboxEvent, emit, register_event_types
from patron.core.owned import require_owned
from patron.core.paging import newest_first
from patron.coupons.models import CodeSource, CodeStatus, CouponCode, CouponTemplate
from patron.coupons.schemas import TemplateIn, TemplatePatch
from patron.members.models import Member
from patron.tenancy.models import Store

register_event_types(
    "coupon.issued",
    "coupon.redeemed",
    "coupon.voided",
    "coupon.expired",
    "coupon.restored",
)

# No 0/O, 1/I/L: a clerk reads codes aloud and types them from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31^10 ≈ 8·10^14 codes: collisions are vanishingly rare
INSERT_CHUNK = 5000
_RESERVE = text(
    "UPDATE coupon_templates SET issued_count = issued_count + :n, updated_at = :now "
    "WHERE id = :id AND merchant_id = :m AND status = 'active' "
    "AND (total_limit IS NULL OR issued_count + :n <= total_limit) RETURNING issued_count"
)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """What a clerk typed → the stored form (upper case, no spaces or dashes)."""
    return raw.strip().upper().replace("-", "").replace(" ", "")


# Templates ------------------------------------------------------------------------------------


def create_template(session: Session, merchant_id: int, data: TemplateIn) -> CouponTemplate:
    """Define a coupon campaign. Codes are issued from it later."""
    require_owned(session, Store, merchant_id, data.store_ids, field="store_ids", what="store")
    now = utcnow(session)
    template = CouponTemplate(
        merchant_id=merchant_id,
        **data.model_dump(),
        issued_count=0,
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    return template


def get_template(session: Session, merchant_id: int, template_id: int) -> CouponTemplate:
    template = session.get(CouponTemplate, template_id)
    if template is None or template.merchant_id != merchant_id:
        raise NotFound("coupon template not found", code="coupon_template_not_found")
    return template


def list_templates(
    session: Session,
    merchant_id: int,
    include_archived: bool = False,
    limit: int | None = None,
    cursor: int | None = None,
) -> list[CouponTemplate]:
    """The merchant's coupon templates, oldest first; with ``limit``, one page newest first."""
    query = select(CouponTemplate).where(CouponTemplate.merchant_id == merchant_id)
    if not include_archived:
        query = query.where(CouponTemplate.status == "active")
    query = query.order_by(CouponTemplate.id)
    return list(session.scalars(newest_first(query, CouponTemplate.id, limit, cursor)))


def update_template(
    session: Session, merchant_id: int, template_id: int, data: TemplatePatch
) -> CouponTemplate:
    """Change words, limits, end date, automation or status (never the discount itself)."""
    template = get_template(session, merchant_id, template_id)
    sent = data.model_dump(exclude_unset=True)
    limit = sent.get("total_limit")
    if limit is not None and limit < template.issued_count:
        raise BusinessRuleViolation(
            f"{template.issued_count} coupons are already issued", code="limit_below_issued"
        )
    valid_to = sent.get("valid_to")
    if valid_to is not None and valid_to.tzinfo is None:
        raise InvalidInput("valid_to needs a time zone", code="naive_datetime")
    for key, value in sent.items():
        setattr(template, key, value)
    template.updated_at = utcnow(session)
    session.flush()
    return template


# Issuing --------------------------------------------------------------------------------------


def code_validity(
    template: CouponTemplate, issued_at: datetime
) -> tuple[datetime | None, datetime | None]:
    """(valid_from, expires_at) of a code issued now: absolute dates, N days, or the earlier."""
    ends = [template.valid_to] if template.valid_to else []
    if template.valid_days:
        ends.append(issued_at + timedelta(days=template.valid_days))
    return template.valid_from, min(ends) if ends else None


def _reserve(session: Session, template: CouponTemplate, n: int) -> None:
    """Take ``n`` of the total issue limit, or refuse; locks the template row until commit."""
    row = session.execute(
        _RESERVE,
        {"n": n, "now": utcnow(session), "id": template.id, "m": template.merchant_id},
    ).first()
    if row is None:
        if template.status != "active":
            raise BusinessRuleViolation("this coupon is archived", code="coupon_template_archived")
        raise BusinessRuleViolation(
            "this coupon's issue limit is reached",
            code="coupon_issue_limit_reached",
            details={"total_limit": template.total_limit, "wanted": n},
        )
    session.expire(template, ["issued_count", "updated_at"])


def _member_counts(session: Session, template_id: int, member_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for start in range(0, len(member_ids), INSERT_CHUNK):
        chunk = member_ids[start : start + INSERT_CHUNK]
        rows = session.execute(
            select(CouponCode.member_id, func.count())
            .where(
                CouponCode.template_id == template_id,
                CouponCode.member_id.in_(chunk),
                CouponCode.status != CodeStatus.VOIDED.value,
            )
            .group_by(CouponCode.member_id)
        )
        counts.update({int(m): int(c) for m, c in rows if m is not None})
    return counts


def _check_issuable(template: CouponTemplate, now: datetime) -> None:
    if template.status != "active":
        raise BusinessRuleViolation("this coupon is archived", code="coupon_template_archived")
    if template.valid_to is not None and template.valid_to <= now:
        raise BusinessRuleViolation("this coupon's validity has ended", code="coupon_ended")


def issue_code(
    session: Session,
    merchant_id: int,
    template_id: int,
    member_id: int,
    *,
    source: CodeSource = CodeSource.MANUAL,
    reason_key: str | None = None,
    actor: str | None = None,
) -> CouponCode:
    """Issue one coupon to one member, within the total and per-member limits.

    Raises ``coupon_issue_limit_reached`` / ``coupon_member_limit_reached`` (422); the caller's
    transaction must then be rolled back (the issued count was already taken)."""
    template = get_template(session, merchant_id, template_id)
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    now = utcnow(session)
    _check_issuable(template, now)
    _reserve(session, template, 1)
    if template.per_member_limit is not None:
        held = _member_counts(session, template.id, [member_id]).get(member_id, 0)
        if held >= template.per_member_limit:
            raise BusinessRuleViolation(
                "this member already holds as many of this coupon as allowed",
                code="coupon_member_limit_reached",
                details={"per_member_limit": template.per_member_limit},
            )
    valid_from, expires_at = code_validity(template, now)
    code = CouponCode(
        merchant_id=merchant_id,
        template_id=template.id,
        code=new_code(),
        member_id=member_id,
        status=CodeStatus.ISSUED.value,
        source=source.value,
        reason_key=reason_key,
        issued_at=now,
        valid_from=valid_from,
        expires_at=expires_at,
        actor=actor,
    )
    session.add(code)
    session.flush()
    emit(session, merchant_id, "coupon.issued", code_payload(code, template), subject_id=member_id)
    return code


def code_payload(code: CouponCode, template: CouponTemplate) -> dict[str, Any]:
    return {
        "code_id": code.id,
        "code": code.code,
        "template_id": template.id,
        "template_name": template.name,
        "member_id": code.member_id,
        "source": code.source,
        "status": code.status,
        "expires_at": code.expires_at.isoformat() if code.expires_at else None,
    }


def _known_members(session: Session, merchant_id: int, member_ids: Sequence[int]) -> list[int]:
    found: list[int] = []
    for start in range(0, len(member_ids), INSERT_CHUNK):
        chunk = member_ids[start : start + INSERT_CHUNK]
        found += session.scalars(
            select(Member.id).where(Member.merchant_id == merchant_id, Member.id.in_(chunk))
        )
    return sorted(found)


def issue_bulk(
    session: Session,
    merchant_id: int,
    template_id: int,
    member_ids: Sequence[int],
    *,
    source: CodeSource = CodeSource.BULK,
    reason_key: str | None = None,
    actor: str | None = None,
) -> tuple[int, int]:
    """Issue one coupon to each listed member with set-based inserts. Returns (issued, skipped):
    unknown members and members at the per-member limit (or already given one under
    ``reason_key``) are skipped; repeated ids count once. All or nothing against the total
    limit: if fewer remain than members to issue to, ``coupon_issue_limit_reached`` and
    nothing is issued."""
    template = get_template(session, merchant_id, template_id)
    now = utcnow(session)
    _check_issuable(template, now)
    # Lock the template first so the per-member counts below cannot go stale (PostgreSQL).
    session.execute(
        select(CouponTemplate.id).where(CouponTemplate.id == template.id).with_for_update()
    )
    wanted = sorted(set(member_ids))
    members = _known_members(session, merchant_id, wanted)
    if template.per_member_limit is not None:
        counts = _member_counts(session, template.id, members)
        members = [m for m in members if counts.get(m, 0) < template.per_member_limit]
    if reason_key is not None:
        given = set(_already_given(session, template.id, members, reason_key))
        members = [m for m in members if m not in given]
    if members:
        _reserve(session, template, len(members))
        _insert_codes(session, template, members, source, reason_key, actor, now)
    return len(members), len(wanted) - len(members)


def _already_given(
    session: Session, template_id: int, member_ids: Sequence[int], reason_key: str
) -> list[int]:
    found: list[int] = []
    for start in range(0, len(member_ids), INSERT_CHUNK):
        chunk = member_ids[start : start + INSERT_CHUNK]
        found += [
            m
            for m in session.scalars(
                select(CouponCode.member_id).where(
                    CouponCode.template_id == template_id,
                    CouponCode.reason_key == reason_key,
                    CouponCode.member_id.in_(chunk),
                )
            )
            if m is not None
        ]
    return found


def _insert_codes(
    session: Session,
    template: CouponTemplate,
    members: Sequence[int],
    source: CodeSource,
    reason_key: str | None,
    actor: str | None,
    now: datetime,
) -> None:
    valid_from, expires_at = code_validity(template, now)
    codes: set[str] = set()
    while len(codes) < len(members):
        codes.add(new_code())
    rows = [
        {
            "merchant_id": template.merchant_id,
            "template_id": template.id,
            "code": code,
            "member_id": member_id,
            "status": CodeStatus.ISSUED.value,
            "source": source.value,
            "reason_key": reason_key,
            "issued_at": now,
            "valid_from": valid_from,
            "expires_at": expires_at,
            "actor": actor,
        }
        for member_id, code in zip(members, sorted(codes), strict=True)
    ]
    expires = expires_at.isoformat() if expires_at else None
    events = [
        {
            "merchant_id": template.merchant_id,
            "type": "coupon.issued",
            "subject_id": row["member_id"],
            "payload": {
                "code": row["code"],
                "template_id": template.id,
                "template_name": template.name,
                "member_id": row["member_id"],
                "source": source.value,
                "status": CodeStatus.ISSUED.value,
                "expires_at": expires,
            },
            "occurred_at": now,
        }
        for row in rows
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(CouponCode), rows[start : start + INSERT_CHUNK])
        session.execute(insert(OutboxEvent), events[start : start + INSERT_CHUNK])


# Codes ----------------------------------------------------------------------------------------


def get_code(session: Session, merchant_id: int, code_id: int) -> CouponCode:
    code = session.get(CouponCode, code_id)
    if code is None or code.merchant_id != merchant_id:
        raise NotFound("coupon not found", code="coupon_not_found")
    return code


def list_codes(
    session: Session,
    merchant_id: int,
    *,
    template_id: int | None = None,
    member_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[CouponCode]:
    """Codes, newest first, ``limit + 1`` rows (for :func:`patron.core.http.page_of`)."""
    query = select(CouponCode).where(CouponCode.merchant_id == merchant_id)
    if template_id is not None:
        query = query.where(CouponCode.template_id == template_id)
    if member_id is not None:
        query = query.where(CouponCode.member_id == member_id)
    if status is not None:
        query = query.where(CouponCode.status == status)
    if cursor is not None:
        query = query.where(CouponCode.id < cursor)
    return list(session.scalars(query.order_by(CouponCode.id.desc()).limit(limit + 1)))


def void_code(
    session: Session, merchant_id: int, code_id: int, reason: str, actor: str
) -> CouponCode:
    """A manager takes back an unused coupon, with a reason. Its issue slot is not given back."""
    code = get_code(session, merchant_id, code_id)
    now = utcnow(session)
    done = session.execute(
        update(CouponCode)
        .where(CouponCode.id == code.id, CouponCode.status == CodeStatus.ISSUED.value)
        .values(status=CodeStatus.VOIDED.value, voided_at=now, void_reason=reason, actor=actor)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"this coupon is {code.status}", code="coupon_not_voidable")
    session.refresh(code)
    template = get_template(session, merchant_id, code.template_id)
    payload = {**code_payload(code, template), "reason": reason, "actor": actor}
    emit(session, merchant_id, "coupon.voided", payload, subject_id=code.member_id)
    return code


def redeem_code(
    session: Session, merchant_id: int, code_id: int, order_id: int, at: datetime
) -> CouponCode:
    """Mark a coupon used by an order: exactly one of any concurrent attempts succeeds."""
    done = session.execute(
        update(CouponCode)
        .where(
            CouponCode.id == code_id,
            CouponCode.merchant_id == merchant_id,
            CouponCode.status == CodeStatus.ISSUED.value,
        )
        .values(status=CodeStatus.REDEEMED.value, redeemed_at=at, redeemed_order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    code = get_code(session, merchant_id, code_id)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this coupon was used meanwhile", code="coupon_already_used")
    session.refresh(code)
    template = get_template(session, merchant_id, code.template_id)
    payload = {**code_payload(code, template), "order_id": order_id}
    emit(session, merchant_id, "coupon.redeemed", payload, subject_id=code.member_id)
    return code


def expire_due(session: Session, now: datetime | None = None, limit: int = 1000) -> int:
    """Mark issued coupons past their end as expired (every merchant). Returns how many."""
    now = now or utcnow(session)
    due = list(
        session.scalars(
            select(CouponCode)
            .where(CouponCode.status == CodeStatus.ISSUED.value, CouponCode.expires_at <= now)
            .order_by(CouponCode.id)
            .limit(limit)
        )
    )
    for code in due:
        code.status = CodeStatus.EXPIRED.value
        session.flush()
        emit(
            session,
            code.merchant_id,
            "coupon.expired",
            {
                "code_id": code.id,
                "code": code.code,
                "template_id": code.template_id,
                "member_id": code.member_id,
            },
            subject_id=code.member_id,
        )
    return len(due)


def order_coupons(
    session: Session, merchant_id: int, order_ids: Sequence[int]
) -> dict[int, list[tuple[CouponCode, CouponTemplate]]]:
    """The coupons redeemed on each of these orders (with their templates), by order id."""
    out: dict[int, list[tuple[CouponCode, CouponTemplate]]] = {}
    if not order_ids:
        return out
    rows = session.execute(
        select(CouponCode, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == CouponCode.template_id)
        .where(
            CouponCode.merchant_id == merchant_id,
            CouponCode.redeemed_order_id.in_(list(order_ids)),
            CouponCode.status == CodeStatus.REDEEMED.value,
        )
        .order_by(CouponCode.id)
    )
    for code, template in rows:
        assert code.redeemed_order_id is not None
        out.setdefault(code.redeemed_order_id, []).append((code, template))
    return out


def member_coupons(
    session: Session, merchant_id: int, member_id: int, status: str | None = None
) -> list[tuple[CouponCode, CouponTemplate]]:
    """A member's wallet: their codes with the template each came from, newest first."""
    query = (
        select(CouponCode, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == CouponCode.template_id)
        .where(CouponCode.merchant_id == merchant_id, CouponCode.member_id == member_id)
    )
    if status is not None:
        query = query.where(CouponCode.status == status)
    return [(c, t) for c, t in session.execute(query.order_by(CouponCode.id.desc()))]


# Registers this domain's member-merge hook (ADR 0370).
from patron.coupons import merge as _merge_hook  # noqa: E402, F401
