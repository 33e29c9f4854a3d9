"""The member's in-app inbox as the portal reads it: newest first, mark read."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.engagement.models import InboxItem
from patron.members.attention import record_activity


def inbox_items(
    session: Session, merchant_id: int, member_id: int, limit: int = 50, cursor: int | None = None
) -> list[InboxItem]:
    """The member's own inbox items, newest first (``limit + 1`` rows for paging)."""
    query = select(InboxItem).where(
        InboxItem.merchant_id == merchant_id, InboxItem.member_id == member_id
    )
    if cursor is not None:
        query = query.where(InboxItem.id < cursor)
    return list(session.scalars(query.order_by(InboxItem.id.desc()).limit(limit + 1)))


def unread_count(session: Session, merchant_id: int, member_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                InboxItem.merchant_id == merchant_id,
                InboxItem.member_id == member_id,
                InboxItem.read_at.is_(None),
            )
        )
        or 0
    )


def mark_read(session: Session, merchant_id: int, member_id: int, item_id: int) -> InboxItem:
    """Mark one of the member's items read (the first time only, which counts as opening the
    message towards the engagement score); 404 for anyone else's."""
    item = session.get(InboxItem, item_id)
    if item is None or item.merchant_id != merchant_id or item.member_id != member_id:
        raise NotFound("inbox item not found", code="inbox_item_not_found")
    if item.read_at is None:
        item.read_at = utcnow(session)
        session.flush()
        # Reading an inbox item is the in-app open (counted once per message).
        record_activity(
            session, merchant_id, member_id, "message_open", f"message_open:{item.message_id}"
        )
    return item


def mark_all_read(session: Session, merchant_id: int, member_id: int) -> int:
    result = session.execute(
        update(InboxItem)
        .where(
            InboxItem.merchant_id == merchant_id,
            InboxItem.member_id == member_id,
            InboxItem.read_at.is_(None),
        )
        .values(read_at=utcnow(session))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
