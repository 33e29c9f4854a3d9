"""The rule behind a member's language (ADR 0410), case by case: given → phone's country →
address's country → the merchant's; only languages Patron offers (en, zh_Hans)."""

from __future__ import annotations

from typing import Any

import pytest

from patron.members.language import MemberLanguage, member_language
from patron.members.models import Member


def _member(**fields: Any) -> Member:
    return Member(merchant_id=1, **fields)


@pytest.mark.parametrize(
    ("fields", "merchant", "expected"),
    [
        ({"phone": "+447400123456"}, "zh_Hans_CN", ("en", "phone")),  # London
        ({"phone": "+8613912345678"}, "en", ("zh_Hans", "phone")),
        ({"phone": "+8613912345678", "locale": "en-GB"}, "zh_Hans_CN", ("en", "given")),
        ({"phone": "+447400123456", "locale": "zh-CN"}, "en", ("zh_Hans", "given")),
        ({"phone": "+12125550123"}, "zh_Hans_CN", ("en", "phone")),  # US: English is de facto
        ({"phone": "+85291234567"}, "zh_Hans_CN", ("en", "phone")),  # HK: zh_Hant not offered
        ({"phone": "+6591234567"}, "zh_Hans_CN", ("en", "phone")),  # Singapore: English first
        # Taiwan (Traditional Chinese) and Switzerland give nothing: the address, then the shop.
        ({"phone": "+886912345678", "address": {"country": "AU"}}, "zh_Hans", ("en", "address")),
        ({"phone": "+41791234567"}, "zh_Hans_CN", ("zh_Hans", "merchant")),
        ({"address": {"country": "United Kingdom"}}, "zh_Hans_CN", ("en", "address")),
        ({"address": {"country": "中国"}}, "en", ("zh_Hans", "address")),
        ({"address": {"country": "Narnia"}}, "en_US", ("en", "merchant")),
        # A language Patron does not offer counts as not given.
        ({"locale": "zh_Hant_TW", "phone": "+447400123456"}, "zh_Hans", ("en", "phone")),
        ({"locale": "fr"}, "zh_Hans_CN", ("zh_Hans", "merchant")),
        ({}, None, ("en", "merchant")),
    ],
)
def test_member_language(
    fields: dict[str, Any], merchant: str | None, expected: tuple[str, str]
) -> None:
    assert member_language(_member(**fields), merchant) == MemberLanguage(*expected)
