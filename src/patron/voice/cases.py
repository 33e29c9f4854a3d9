"""After-sales cases (ADR 1502): opened by the member, by staff (a phone call logged) or by a
low rating; a timeline of notes, replies and actions; business-hours timers; resolution
actions through the existing services, each audited with who and why and recorded once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.coupons import service as coupons
from patron.coupons.models import CodeSource
from patron.engagement.messages import enqueue_message
from patron.ledger.service import Asset, EntryInfo, adjust_balance
from patron.members.models import Member
from patron.orders import service as orders
from patron.orders.models import Order, OrderLine
from patron.orders.schemas import RefundCreate, RefundLineIn
from patron.tenancy.models import Merchant, StaffUser
from patron.voice.hours import Timer, service_settings, timer
from patron.voice.models import (
    CaseEvent,
    CaseKind,
    CasePriority,
    CaseSource,
    CaseStatus,
    ServiceCase,
)

register_event_types("case.opened", "case.closed")
KINDS = tuple(k.value for k in CaseKind)
STATUSES = tuple(s.value for s in CaseStatus)
PRIORITIES = tuple(p.value for p in CasePriority)
MAX_TEXT = 4000
# The consent topic of a reply: the member's own purchase, like a receipt (ADR 0412).
REPLY_TOPIC = "orders"


def _text(body: str, *, required: bool = True) -> str:
    body = body.strip()
    if (required and not body) or len(body) > MAX_TEXT:
        raise InvalidInput("write 1 to 4000 characters", code="invalid_text")
    return body


def _event(
    session: Session,
    case: ServiceCase,
    kind: str,
    actor: str,
    body: str = "",
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> CaseEvent:
    event = CaseEvent(
        merchant_id=case.merchant_id,
        case_id=case.id,
        kind=kind,
        actor=actor,
        body=body,
        detail=detail or {},
        dedupe_key=dedupe_key,
        created_at=utcnow(session),
    )
    session.add(event)
    session.flush()
    return event


def open_case(
    session: Session,
    merchant_id: int,
    member_id: int,
    *,
    kind: str,
    subject: str,
    body: str,
    order_id: int | None,
    line_ids: Sequence[int],
    source: str,
    actor: str,
    priority: str = CasePriority.NORMAL.value,
    review_id: int | None = None,
) -> ServiceCase:
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    if (
        kind not in KINDS
        or priority not in PRIORITIES
        or source not in {s.value for s in CaseSource}
    ):
        raise InvalidInput("unknown kind, priority or source", code="invalid_case")
    subject = subject.strip()[:200]
    if not subject:
        raise InvalidInput("give the case a subject", code="invalid_text")
    body = _text(body, required=False)
    lines: list[int] = []
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None or order.merchant_id != merchant_id or order.member_id != member_id:
            raise NotFound("order not found", code="order_not_found")
        known = set(
            session.scalars(
                select(OrderLine.id).where(
                    OrderLine.order_id == order.id, OrderLine.merchant_id == merchant_id
                )
            )
        )
        lines = sorted(set(line_ids))
        if not set(lines) <= known:
            raise NotFound("order line not found", code="order_line_not_found")
    elif line_ids:
        raise InvalidInput("lines belong to an order", code="invalid_case")
    now = utcnow(session)
    case = ServiceCase(
        merchant_id=merchant_id,
        member_id=member_id,
        order_id=order_id,
        line_ids=lines,
        review_id=review_id,
        kind=kind,
        status=CaseStatus.OPEN.value,
        priority=priority,
        source=source,
        subject=subject,
        opened_by=actor,
        opened_at=now,
    )
    session.add(case)
    session.flush()
    _event(session, case, "opened", actor, body, {"source": source})
    emit(
        session,
        merchant_id,
        "case.opened",
        {
            "case_id": case.id,
            "member_id": member_id,
            "kind": kind,
            "source": source,
            "order_id": order_id,
        },
        subject_id=member_id,
    )
    return case


def get_case(session: Session, merchant_id: int, case_id: int) -> ServiceCase:
    case = session.get(ServiceCase, case_id)
    if case is None or case.merchant_id != merchant_id:
        raise NotFound("case not found", code="case_not_found")
    return case


def member_case(session: Session, merchant_id: int, member_id: int, case_id: int) -> ServiceCase:
    case = get_case(session, merchant_id, case_id)
    if case.member_id != member_id:
        raise NotFound("case not found", code="case_not_found")
    return case


def timeline(session: Session, case: ServiceCase, *, public_only: bool = False) -> list[CaseEvent]:
    q = select(CaseEvent).where(
        CaseEvent.merchant_id == case.merchant_id, CaseEvent.case_id == case.id
    )
    if public_only:
        q = q.where(CaseEvent.kind.in_(("opened", "reply", "member", "status", "satisfaction")))
    return list(session.scalars(q.order_by(CaseEvent.id)))


def add_note(session: Session, case: ServiceCase, body: str, actor: str) -> CaseEvent:
    """An internal note: staff only, never shown to the member."""
    return _event(session, case, "note", actor, _text(body))


def reply(
    session: Session, case: ServiceCase, body: str, actor: str, channel: str = "in_app"
) -> CaseEvent:
    """A reply to the member through a channel (a transactional message in the outbox, so
    quiet hours and the member's channel choice apply, caps never do); it stops the first
    response timer and puts the case in the member's hands."""
    body = _text(body)
    merchant = session.get(Merchant, case.merchant_id)
    assert merchant is not None
    event = _event(session, case, "reply", actor, body, {"channel": channel})
    title = {"en": f"About your case: {case.subject}", "zh_Hans": f"关于您的售后单：{case.subject}"}
    content = {
        locale: {"title": title[locale][:200], "body": body}
        if channel == "in_app"
        else {"subject": title[locale][:200], "text": body, "html": body}
        if channel == "email"
        else {"body": body}
        for locale in ("en", "zh_Hans")
    }
    message = enqueue_message(
        session,
        case.merchant_id,
        case.member_id,
        channel,
        topic=REPLY_TOPIC,
        kind="transactional",
        dedupe_key=f"case:{case.id}:reply:{event.id}",
        content=content,
    )
    event.detail = {"channel": channel, "message_id": message.id}
    if case.first_response_at is None:
        case.first_response_at = event.created_at
    if case.status == CaseStatus.OPEN.value:
        case.status = CaseStatus.WAITING.value
    session.flush()
    return event


def member_writes(session: Session, case: ServiceCase, body: str) -> CaseEvent:
    """The member adds to their case in the portal: it is the shop's turn again."""
    if case.status == CaseStatus.CLOSED.value:
        raise Conflict("the case is closed", code="case_closed")
    event = _event(session, case, "member", f"member:{case.member_id}", _text(body))
    if case.status in (CaseStatus.WAITING.value, CaseStatus.RESOLVED.value):
        case.status = CaseStatus.OPEN.value
        case.resolved_at = None
    session.flush()
    return event


def update(
    session: Session,
    case: ServiceCase,
    actor: str,
    *,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: int | None = None,
    unassign: bool = False,
) -> None:
    """Change status, priority or assignee; each change is a line on the timeline."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("unknown status", code="invalid_status")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidInput("unknown priority", code="invalid_priority")
    if assignee_id is not None:
        user = session.get(StaffUser, assignee_id)
        if user is None or user.merchant_id != case.merchant_id:
            raise NotFound("staff member not found", code="staff_not_found")
    now = utcnow(session)
    if priority is not None and priority != case.priority:
        _event(session, case, "priority", actor, detail={"from": case.priority, "to": priority})
        case.priority = priority
    if (assignee_id is not None or unassign) and assignee_id != case.assignee_id:
        _event(session, case, "assignee", actor, detail={"to": assignee_id})
        case.assignee_id = assignee_id
    if status is not None and status != case.status:
        _event(session, case, "status", actor, detail={"from": case.status, "to": status})
        case.status = status
        if status in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value):
            case.resolved_at = case.resolved_at or now
        else:
            case.resolved_at = None
            case.closed_at = None
        if status == CaseStatus.CLOSED.value:
            case.closed_at = now
            _ask_satisfaction(session, case)
            emit(
                session,
                case.merchant_id,
                "case.closed",
                {"case_id": case.id, "member_id": case.member_id},
                subject_id=case.member_id,
            )
    session.flush()


def _ask_satisfaction(session: Session, case: ServiceCase) -> None:
    """Ask the member, in the portal inbox, how satisfied they are (once per case)."""
    if case.satisfaction is not None:
        return
    enqueue_message(
        session,
        case.merchant_id,
        case.member_id,
        "in_app",
        topic=REPLY_TOPIC,
        kind="transactional",
        dedupe_key=f"case:{case.id}:satisfaction",
        content={
            "en": {
                "title": "How did we do?",
                "body": f"Your case '{case.subject}' is closed. "
                "Tell us how satisfied you are, on your case page.",
            },
            "zh_Hans": {
                "title": "您对处理结果满意吗？",
                "body": f"您的售后单「{case.subject}」已关闭，请在售后单页面为我们打分。",
            },
        },
    )


def answer_satisfaction(session: Session, case: ServiceCase, score: int) -> None:
    if case.status != CaseStatus.CLOSED.value:
        raise Conflict("the case is not closed yet", code="case_not_closed")
    if case.satisfaction is not None:
        raise Conflict("already answered", code="already_answered")
    if type(score) is not int or not 1 <= score <= 5:
        raise InvalidInput("satisfaction is 1 to 5", code="invalid_score")
    case.satisfaction = score
    case.satisfaction_at = utcnow(session)
    _event(session, case, "satisfaction", f"member:{case.member_id}", detail={"score": score})


# --- resolution actions -------------------------------------------------------------------


def _done(session: Session, case: ServiceCase, key: str) -> CaseEvent | None:
    return session.scalar(
        select(CaseEvent).where(
            CaseEvent.merchant_id == case.merchant_id, CaseEvent.dedupe_key == key
        )
    )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 300:
        raise InvalidInput("say why, in 1 to 300 characters", code="reason_required")
    return reason


def _key(case: ServiceCase, form_key: str) -> str:
    if not 16 <= len(form_key) <= 64:
        raise InvalidInput("a form key is 16 to 64 characters", code="invalid_key")
    return f"case:{case.id}:{form_key}"


def give_balance(
    session: Session,
    case: ServiceCase,
    asset: Asset,
    amount: int,
    reason: str,
    actor: str,
    form_key: str,
) -> CaseEvent:
    """A goodwill gesture in points, or stored value (bonus money), posted once per form key."""
    reason, key = _reason(reason), _key(case, form_key)
    if asset not in (Asset.POINTS, Asset.STORED_BONUS):
        raise InvalidInput("points or stored value", code="invalid_asset")
    if type(amount) is not int or amount <= 0:
        raise InvalidInput("an amount above zero", code="invalid_amount")
    found = _done(session, case, key)
    if found is not None:
        return found
    info = EntryInfo(
        reason_code="goodwill",
        description=reason,
        actor=actor,
        note=f"case {case.id}",
        object_type="case",
        object_id=str(case.id),
    )
    posted = adjust_balance(
        session,
        case.merchant_id,
        case.member_id,
        asset,
        amount,
        info,
        idempotency_key=key,
        body={"case_id": case.id, "asset": asset.value, "amount": amount, "reason": reason},
    )
    kind = "points" if asset is Asset.POINTS else "stored_value"
    return _event(
        session, case, kind, actor, reason, {"amount": amount, "entry_id": posted.id}, key
    )


def give_coupon(
    session: Session, case: ServiceCase, template_id: int, reason: str, actor: str, form_key: str
) -> CaseEvent:
    reason, key = _reason(reason), _key(case, form_key)
    found = _done(session, case, key)
    if found is not None:
        return found
    code = coupons.issue_code(
        session,
        case.merchant_id,
        template_id,
        case.member_id,
        source=CodeSource.MANUAL,
        reason_key=key[:80],
        actor=actor,
    )
    detail = {"template_id": template_id, "code_id": code.id, "code": code.code}
    return _event(session, case, "coupon", actor, reason, detail, key)


def refund(
    session: Session,
    case: ServiceCase,
    quantities: dict[int, int],
    reason: str,
    actor: str,
    form_key: str,
) -> CaseEvent:
    """Refund quantities of the case's order lines through the orders refund service (which
    takes back the points the lines earned and hands back stored value as it always does)."""
    reason, key = _reason(reason), _key(case, form_key)
    if case.order_id is None:
        raise InvalidInput("this case has no order", code="no_order")
    found = _done(session, case, key)
    if found is not None:
        return found
    lines = {
        line.id: line
        for line in session.scalars(
            select(OrderLine).where(
                OrderLine.merchant_id == case.merchant_id, OrderLine.order_id == case.order_id
            )
        )
    }
    wanted = {lid: q for lid, q in quantities.items() if q}
    if not wanted or not set(wanted) <= set(lines) or any(q < 0 for q in wanted.values()):
        raise InvalidInput("choose lines of the order and quantities", code="invalid_refund")
    data = RefundCreate(
        external_id=key[:120],
        lines=[
            RefundLineIn(line_no=lines[lid].line_no, quantity=q)
            for lid, q in sorted(wanted.items())
        ],
        reason=reason,
    )
    done = orders.record_refund(session, case.merchant_id, case.order_id, data)
    detail = {"refund_id": done.refund.id, "amount_minor": done.refund.amount_minor}
    return _event(session, case, "refund", actor, reason, detail, key)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timers:
    first_response: Timer
    resolution: Timer


def timers(session: Session, case: ServiceCase) -> Timers:
    merchant = session.get(Merchant, case.merchant_id)
    assert merchant is not None
    conf = service_settings(session, case.merchant_id)
    zone, now = ZoneInfo(merchant.timezone), utcnow(session)
    return Timers(
        timer(
            case.opened_at,
            case.first_response_at,
            now,
            conf["first_response_minutes"],
            zone,
            conf["hours"],
        ),
        timer(
            case.opened_at, case.resolved_at, now, conf["resolution_minutes"], zone, conf["hours"]
        ),
    )


def list_cases(
    session: Session,
    merchant_id: int,
    *,
    status: str | None = None,
    member_id: int | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[ServiceCase]:
    q = select(ServiceCase).where(ServiceCase.merchant_id == merchant_id)
    if status:
        q = q.where(ServiceCase.status == status)
    if member_id is not None:
        q = q.where(ServiceCase.member_id == member_id)
    if cursor is not None:
        q = q.where(ServiceCase.id < cursor)
    return list(session.scalars(q.order_by(ServiceCase.id.desc()).limit(limit + 1)))
