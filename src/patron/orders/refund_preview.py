"""What a refund would do, before it is done (ADR 0381).

The preview runs the refund itself — :func:`patron.orders.service.record_refund`, with the
programs reversing points and stored value — inside a savepoint that is always rolled back, and
keeps what it did. So the figures a clerk confirms (the cash to hand back, points given and
taken back, stored value returned) come from the very code that will do the refund, not from a
second calculation; refusals (more than is left, a cancelled order) are the refund's own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from patron.orders.schemas import RefundCreate
from patron.orders.service import record_refund
from patron.orders.settlement import RefundOutcome


@dataclass(frozen=True)
class RefundPreview:
    """The refund as it would be recorded now: its lines and amount, the order's status after
    it, and the outcome (points, stored value, the cash to hand back)."""

    amount_minor: int
    order_status: str
    lines: list[dict[str, Any]]
    outcome: RefundOutcome


def preview_refund(
    session: Session, merchant_id: int, order_id: int, data: RefundCreate
) -> RefundPreview:
    """Run the refund of ``data``'s lines in a savepoint, note what it did, and roll it back:
    nothing is written. Raises what the refund would raise.

    The session must be a writing one (on SQLite a read transaction cannot take the write lock
    it needs); its objects touched by the refund are expired by the rollback."""
    trial = data.model_copy(update={"external_id": f"preview-{secrets.token_hex(12)}"})
    savepoint = session.begin_nested()
    try:
        done = record_refund(session, merchant_id, order_id, trial)
        assert done.outcome is not None  # a fresh external id: never a replay
        preview = RefundPreview(
            amount_minor=done.refund.amount_minor,
            order_status=done.order_status,
            lines=[dict(line) for line in done.lines],
            outcome=done.outcome,
        )
    finally:
        savepoint.rollback()
    return preview
