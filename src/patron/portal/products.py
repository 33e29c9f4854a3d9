"""Scan to buy: a product's QR code opens the product in the member portal (ADR 1341).

The link names the shop by its slug and the product by its id (stable, and never another
merchant's: the page looks the product up within the shop). The member's price is what the
checkout's quote says for one of the product, and early access follows the checkout's rule.
"""

from __future__ import annotations

import re

from patron.tenancy.models import Merchant

# ``/portal/<shop>/p/<product id>``: where a product's code leads (and where sign-in may
# bring the member back to).
PRODUCT_PATH = re.compile(r"^/portal/(?P<slug>[A-Za-z0-9_-]{1,80})/p/(?P<id>[1-9][0-9]{0,17})$")


def product_path(merchant: Merchant, product_id: int) -> str:
    return f"/portal/{merchant.slug}/p/{product_id}"


def product_url(base_url: str, merchant: Merchant, product_id: int) -> str:
    """The full link printed in the product's QR code."""
    return base_url.rstrip("/") + product_path(merchant, product_id)


def is_product_path(path: str, merchant: Merchant) -> bool:
    """Whether ``path`` is a product page of ``merchant`` (a safe place to land after sign-in)."""
    found = PRODUCT_PATH.match(path)
    return found is not None and found["slug"] == merchant.slug
