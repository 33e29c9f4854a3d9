"""The languages Patron offers (pages, catalogues, message variants), and how a locale tag maps
to one of them. Every layer that picks a language uses these, so "offered" means one thing."""

from __future__ import annotations

# Our codes: also the catalogue directory names and the message-template variant keys.
OFFERED = ("en", "zh_Hans")
DEFAULT = "en"


def normalise_locale(value: str | None) -> str | None:
    """Map a locale tag (``zh-CN``, ``zh_Hans_CN``, ``zh``, ``en-US``…) to an offered language.

    Traditional Chinese (``zh_Hant``, ``zh-TW``, ``zh-HK``…) is not offered yet: it maps to None
    so the caller falls back rather than mislabel it."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag in {"zh_hant", "zh_tw", "zh_hk", "zh_mo"} or tag.startswith("zh_hant"):
        return None
    if tag == "zh" or tag.startswith("zh_"):
        return "zh_Hans"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None
