"""The services' refusals at the till, in the reader's language (by the error's code; others are
shown as the service wrote them)."""

from __future__ import annotations

from fastapi import Request

from patron.core.errors import PatronError
from patron.i18n import N_
from patron.web.rendering import formatter_for, translate

REFUSALS: dict[str, str] = {
    "coupon_not_found": N_("No coupon has this code."),
    "coupon_repeated": N_("This coupon is on the sale already."),
    "coupon_not_stackable": N_("This coupon cannot be used together with the other coupons."),
    "coupon_not_combinable": N_("This coupon cannot be combined with member discounts."),
    "coupon_already_used": N_("This coupon was used meanwhile."),
    "redemption_disabled": N_("Points cannot pay at this shop."),
    "insufficient_balance": N_("The member does not have that much."),
    "stored_value_over_due": N_("Stored value cannot pay more than is due."),
    "unknown_sku": N_("This product is not in the catalogue."),
    "invalid_qr_token": N_("This membership code is not valid."),
    "member_not_found": N_("No such member."),
    "store_not_found": N_("No such store."),
    "gift_out_of_stock": N_("The gift is out of stock."),
    "early_access_members_only": N_("This product is not released yet: only members may buy it."),
    "early_access_member_day_only": N_(
        "This product is not released yet: members may buy it on member day."
    ),
    "early_access_tier_only": N_("This product is not released yet: only some tiers may buy it."),
    "refund_exceeds_quantity": N_("That is more than is left to refund on this line."),
    "nothing_to_refund": N_("This order was already refunded in full."),
    "order_cancelled": N_("A cancelled order cannot be refunded."),
    "unknown_line": N_("The order has no such line."),
    "invalid_amount": N_("Enter an amount above zero."),
    "idempotency_key_reused": N_("This form was already used. Reload the page and try again."),
    "refund_conflict": N_("This form was already used. Reload the page and try again."),
}
COUPON_REASONS: dict[str, str] = {
    "redeemed": N_("This coupon was already used."),
    "expired": N_("This coupon has expired."),
    "voided": N_("This coupon was cancelled."),
    "other_member": N_("This coupon belongs to another member."),
    "not_yet_valid": N_("This coupon is not valid yet."),
    "store": N_("This coupon is not valid in this store."),
}


def refusal(request: Request, exc: PatronError) -> str:
    """Why the service said no, in words the clerk reads."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "coupon_not_usable" and str(details.get("reason")) in COUPON_REASONS:
        return translate(request, COUPON_REASONS[str(details["reason"])])
    if exc.code == "coupon_min_spend_not_met" and "min_spend_minor" in details:
        least = formatter_for(request).money(int(details["min_spend_minor"]))
        return translate(request, "This coupon needs a spend of at least %(amount)s.", amount=least)
    if exc.code == "points_over_limit" and "max_points" in details:
        most = formatter_for(request).number(int(details["max_points"]))
        return translate(request, "Points may pay at most %(n)s points on this sale.", n=most)
    if exc.code == "below_minimum_points":
        return translate(request, "That is fewer points than may pay at a time.")
    known = REFUSALS.get(exc.code)
    return translate(request, known) if known else exc.message
