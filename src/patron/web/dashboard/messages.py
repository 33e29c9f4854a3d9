"""The message log: each member's messages (a member-page card), the Messages page with
filters, and the dead-letter list with Retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import BusinessRuleViolation
from patron.core.http import SessionDep
from patron.engagement import messages
from patron.engagement.channels import channel_names
from patron.engagement.counts import message_counts
from patron.engagement.models import MessageStatus
from patron.i18n import N_
from patron.members.models import Member
from patron.members.topics import labels_by_code
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.nav import NavItem, Panel
from patron.web.rendering import flash, render, resolve_locale, translate

router = APIRouter()
NAV = [NavItem("messages", N_("Messages"), "/messages", icon="send", order=50)]
PAGE_SIZE = 50
PANEL_SIZE = 10
DEAD_SHOWN = 20
STATUSES = [status.value for status in MessageStatus]


def _member_messages(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    found = messages.list_messages(session, merchant_id, member_id=member.id, limit=PANEL_SIZE)
    # Topics in the reader's words (a panel loader does not know the reader: both languages).
    by_language = {code: labels_by_code(session, merchant_id, code) for code in ("en", "zh_Hans")}
    return {
        "member_messages": found[:PANEL_SIZE],
        "more_messages": len(found) > PANEL_SIZE,
        "topic_labels_by_language": by_language,
    }


MEMBER_PANELS = [Panel("messages", "dashboard/messages/_panel.html", _member_messages, order=50)]


def _names(session: Session, merchant_id: int, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = session.scalars(
        select(Member).where(Member.merchant_id == merchant_id, Member.id.in_(member_ids))
    )
    return {m.id: m.display_name for m in rows}


@router.get("/messages")
def message_log(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    status: Annotated[str, Query(max_length=16)] = "",
    channel: Annotated[str, Query(max_length=16)] = "",
    member: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every message, newest first, filtered by status, channel or member; dead letters above."""
    status = status if status in STATUSES else ""
    channel = channel if channel in channel_names() else ""
    rows = messages.list_messages(
        session,
        staff.merchant_id,
        member_id=member,
        status=status or None,
        channel=channel or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    dead = messages.list_messages(
        session, staff.merchant_id, status=MessageStatus.DEAD.value, limit=DEAD_SHOWN
    )
    context = {
        "rows": rows,
        "counts": message_counts(
            session, staff.merchant_id, member_id=member, channel=channel or None
        ),
        "topic_labels": labels_by_code(session, staff.merchant_id, resolve_locale(request)),
        "dead": dead[:DEAD_SHOWN],
        "more_dead": len(dead) > DEAD_SHOWN,
        "names": _names(session, staff.merchant_id, {m.member_id for m in [*rows, *dead]}),
        "status": status,
        "channel": channel,
        "member_filter": member,
        "statuses": STATUSES,
        "channels": channel_names(),
        "next_cursor": rows[-1].id if more and rows else None,
        "paged": cursor is not None,
        "can_retry": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/messages/list.html", context)


@router.post("/messages/{message_id}/retry")
def retry(
    request: Request, message_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Send a dead (or unknown) message again through every guard; anything else is refused."""
    try:
        messages.retry_message(session, staff.merchant_id, message_id)
        flash(request, translate(request, "The message is queued again."))
    except BusinessRuleViolation:
        flash(request, translate(request, "Only dead or unknown messages can be retried."), "error")
    return RedirectResponse("/messages", status_code=303)
