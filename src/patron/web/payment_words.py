"""Payment providers and payment states in the words members and merchants read."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from patron.core.money import minor_digits
from patron.i18n import N_

PROVIDER_NAMES = {
    "wechat_pay": N_("WeChat Pay"),
    "alipay": N_("Alipay"),
    "stripe": N_("Card (Stripe)"),
}
STATUS_NAMES = {
    "pending": N_("Waiting for payment"),
    "paid": N_("Paid"),
    "expired": N_("Expired"),
    "refund_pending": N_("Refund on its way"),
    "refunded": N_("Refunded"),
    "refund_failed": N_("Refund needs the shop"),
}
STATUS_TONES = {
    "pending": "warn",
    "paid": "ok",
    "expired": "plain",
    "refund_pending": "warn",
    "refunded": "plain",
    "refund_failed": "off",
}


def amount_minor(text: str, currency: str) -> int | None:
    """``"100"`` or ``"100.50"`` in the currency's major unit → minor units; None if it is
    not an amount of that currency (too many decimals, not a number, not positive)."""
    try:
        amount = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    minor = amount.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        return None
    return int(minor)


def major_text(minor: int, currency: str) -> str:
    """``12345`` CNY → ``"123.45"`` (what an amount box holds)."""
    digits = minor_digits(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"
