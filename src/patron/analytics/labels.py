"""The reader's words for the analytics figures: their language, the merchant's currency.

Used by the analytics page (``web``) and the HTML report (``patron report``); light on purpose
(Babel and the catalogs only): the figures' module, with pandas, loads when the labels are made.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from babel.dates import format_interval, format_skeleton

from patron.i18n import Formatter, translations_for

if TYPE_CHECKING:
    from patron.analytics.facts import Period
    from patron.analytics.figures import Labels


def labels_for(locale: str, currency: str) -> Labels:
    """Words in the reader's language, money in the merchant's currency."""
    from patron.analytics.figures import Labels  # the analytics engine loads with its labels

    fmt = Formatter(locale, currency)
    babel_locale = fmt.locale

    def period(d: date, p: Period) -> str:
        skeleton = "yMMM" if p == "month" else "MMMd"
        return str(format_skeleton(skeleton, d, locale=babel_locale))

    def span(first: date, last: date) -> str:
        return str(format_interval(first, last, "MMMd", locale=babel_locale))

    return Labels(
        gettext=translations_for(locale).gettext,
        money=lambda minor: fmt.money(round(minor)),
        period=period,
        span=span,
    )
