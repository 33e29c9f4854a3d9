"""The programs settle members' orders and refunds (ADR 0901): registered with orders, which
know no programs. Importing ``patron.programs`` registers it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from patron.orders.settlement import SETTLERS, RefundOutcome
from patron.programs.purchase import on_order_recorded
from patron.programs.refunds import on_refund


class ProgramsSettlement:
    """Points, stored value, growth and tier for a member's order and its refunds."""

    def order_recorded(self, session: Session, order: Any, lines: Sequence[Any]) -> None:
        on_order_recorded(session, order, lines)

    def order_refunded(
        self, session: Session, order: Any, refund: Any, lines: Sequence[Any]
    ) -> RefundOutcome:
        return on_refund(session, order, refund, lines)


PROGRAMS_SETTLEMENT = ProgramsSettlement()
if PROGRAMS_SETTLEMENT not in SETTLERS:
    SETTLERS.append(PROGRAMS_SETTLEMENT)
