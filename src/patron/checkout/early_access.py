"""The checkout's early access gate (ADR 0357): a cart line naming a product that is not yet
released is allowed only for the buyers the member day setting names; otherwise the quote and
the commit are refused before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from patron.checkout.schemas import QuoteRequest
from patron.core.errors import BusinessRuleViolation
from patron.orders.service import CatalogueItem
from patron.programs.context import Programs
from patron.programs.early_access import early_access_refusal, is_unreleased


@dataclass(frozen=True)
class EarlyAccessLine:
    """A cart line allowed only because the buyer has early access."""

    line_no: int
    name: str
    release_at: datetime


def early_access_lines(
    catalogue: Mapping[str, CatalogueItem],
    req: QuoteRequest,
    programs: Programs,
    is_member: bool,
    tier_code: str | None,
) -> list[EarlyAccessLine]:
    """The cart's lines of unreleased products, or ``BusinessRuleViolation`` naming the first
    line this buyer may not buy yet (code ``early_access_members_only``,
    ``early_access_member_day_only`` or ``early_access_tier_only``)."""
    found: list[EarlyAccessLine] = []
    for no, ln in enumerate(req.lines, start=1):
        product = catalogue.get(ln.sku) if ln.sku else None
        if product is None or not is_unreleased(product.release_at, programs.at):
            continue
        assert product.release_at is not None
        found.append(EarlyAccessLine(no, product.name, product.release_at))
    if not found:
        return found
    refusal = early_access_refusal(programs, is_member, tier_code)
    if refusal is not None:
        first = found[0]
        when = first.release_at.astimezone(programs.zone).strftime("%Y-%m-%d %H:%M")
        raise BusinessRuleViolation(
            f"line {first.line_no}: {first.name} is released on {when}; before then "
            f"{refusal.reason}",
            code=refusal.code,
            details={
                "line_no": first.line_no,
                "sku": req.lines[first.line_no - 1].sku,
                "release_at": first.release_at.isoformat(),
            },
        )
    return found
