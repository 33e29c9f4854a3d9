"""How an order's money is settled beyond cash — by the layer above orders (ADR 0901).

Orders know no programs: recording an order or a refund calls the settlers registered here.
The programs package registers the purchase settlement (points, stored value, growth, tier) when
it is imported; a shop without it settles everything in cash. The arrow points one way:
programs know orders, orders know only this list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RefundOutcome:
    """What one refund did to the member's balances, and the cash the shop hands back: the
    money refunded less what goes back as stored value and less what the points given back
    had paid (each by the same cumulative shares the ledger entry uses, ADR 0353)."""

    points_returned: int = 0
    points_returned_expired: int = 0  # of them, back into lots that had expired meanwhile
    points_taken_back: int = 0
    points_forgiven: int = 0  # earned, already spent, not taken back (policy ``cap``)
    points_value_minor: int = 0  # what the points given back had paid
    stored_principal_minor: int = 0
    stored_bonus_minor: int = 0
    growth_taken_back: int = 0
    cash_minor: int = 0

    @property
    def stored_value_minor(self) -> int:
        return self.stored_principal_minor + self.stored_bonus_minor


class Settler(Protocol):
    """Settles a member's order and refunds beyond cash (see the module's docstring)."""

    def order_recorded(self, session: Session, order: Any, lines: Sequence[Any]) -> None:
        """A member's order was just recorded (its lines written)."""

    def order_refunded(
        self, session: Session, order: Any, refund: Any, lines: Sequence[Any]
    ) -> RefundOutcome:
        """A refund of a member's order was just recorded; ``lines``: all the order's lines,
        showing the quantities refunded so far (this refund included)."""


SETTLERS: list[Settler] = []


def settle_recorded(session: Session, order: Any, lines: Sequence[Any]) -> None:
    for settler in SETTLERS:
        settler.order_recorded(session, order, lines)


def settle_refunded(
    session: Session, order: Any, refund: Any, lines: Sequence[Any]
) -> RefundOutcome:
    """The outcome of the (one) registered settler; all cash without one."""
    outcome = RefundOutcome(cash_minor=refund.amount_minor)
    for settler in SETTLERS:
        outcome = settler.order_refunded(session, order, refund, lines)
    return outcome
