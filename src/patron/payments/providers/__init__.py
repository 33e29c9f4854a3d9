"""Payment provider plugins: the registry.

Providers are found under the ``patron.payment_providers`` entry point group (see
pyproject.toml), so a package can add one without touching Patron. The built-in ones are also
listed here, so a checkout that has not been re-installed still finds them (as channels do).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from patron.core.errors import InvalidInput
from patron.payments.providers.alipay import AlipayProvider
from patron.payments.providers.base import PaymentProvider
from patron.payments.providers.stripe import StripeProvider
from patron.payments.providers.wechat_pay import WeChatPayProvider

log = logging.getLogger("patron.payments.providers")

BUILTIN: dict[str, type] = {
    "wechat_pay": WeChatPayProvider,
    "alipay": AlipayProvider,
    "stripe": StripeProvider,
}


@lru_cache(maxsize=1)
def registry() -> dict[str, PaymentProvider]:
    """Every provider by name: entry points first, then the built-in fallback."""
    found: dict[str, PaymentProvider] = {}
    for ep in entry_points(group="patron.payment_providers"):
        try:
            provider = ep.load()()
        except Exception:  # a broken third-party plugin must not stop the built-in ones
            log.exception("payment provider plugin failed to load", extra={"entry_point": ep.name})
            continue
        if isinstance(provider, PaymentProvider):
            found[ep.name] = provider
    for name, cls in BUILTIN.items():
        found.setdefault(name, cls())
    return found


def get_provider(name: str) -> PaymentProvider:
    """The provider called ``name`` (422 ``unknown_provider`` otherwise)."""
    provider = registry().get(name)
    if provider is None:
        raise InvalidInput(f"unknown payment provider '{name}'", code="unknown_provider")
    return provider


def provider_names() -> list[str]:
    return sorted(registry())
