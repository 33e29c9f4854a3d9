"""Bounds on amounts that Patron computes from what it was sent."""

from __future__ import annotations

from patron.core.errors import InvalidInput

# The largest amount one order (or cart) may come to, in minor units: 10^15 (ten trillion yuan
# in fen). Each number of a line fits 64 bits; quantity x price summed over many lines did not,
# and the database answered 500. Far below 2^63, so the member's and the shop's running totals
# have room too (ADR 0031).
MAX_ORDER_MINOR = 10**15


def check_order_amount(amount: int, what: str) -> None:
    """422 ``amount_too_large`` if ``amount`` exceeds what one order may come to."""
    if amount > MAX_ORDER_MINOR:
        raise InvalidInput(
            f"{what} comes to {amount}, more than one order may ({MAX_ORDER_MINOR})",
            code="amount_too_large",
            details={"amount_minor": amount, "max_minor": MAX_ORDER_MINOR},
        )
