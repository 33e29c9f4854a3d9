"""Labels for codes that reach the screen from the data: where a member's profile came from
(``members.source``). A code with no label is shown humanised (``demo-signup`` → ``Demo
signup``), never raw. Labels are English msgids; the caller translates them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from patron.i18n import N_

MEMBER_SOURCES = {
    "api": N_("Added through the API"),
    "import": N_("Imported"),
    "shopify": N_("Imported from Shopify"),
    "woocommerce": N_("Imported from WooCommerce"),
    "pos": N_("In store (till)"),
    "checkout": N_("In store (till)"),
    "portal": N_("Member portal"),
    "dashboard": N_("Added in the dashboard"),
    "signup": N_("Signed up"),
    "referral": N_("Referred by a member"),
    "demo-signup": N_("Signed up (sample data)"),
    "demo-pos": N_("In store (sample data)"),
    "join": N_("Joined online (scan to join)"),
}


# Where a consent was recorded (``consents.source``): the codes Patron writes, and the words
# the demo shop records.
CONSENT_SOURCES = {
    "portal": N_("Member portal"),
    "import": N_("Imported"),
    "shopify": N_("Imported from Shopify"),
    "api": N_("Added through the API"),
    "checkout": N_("In store (till)"),
    "pos": N_("In store (till)"),
    "order": N_("With an order"),
    "dashboard": N_("Added in the dashboard"),
    "unsubscribe": N_("Unsubscribe link"),
    "email": N_("Email link"),
    "sms": N_("Text message reply"),
    "whatsapp": N_("WhatsApp reply"),
    "wechat": N_("WeChat"),
    "in-store sign-up": N_("Signed up in store"),
    "online checkout": N_("Online checkout"),
    "WeChat mini-program": N_("WeChat mini-program"),
    "portal settings": N_("Member portal settings"),
    "join": N_("Joined online (scan to join)"),
}


def consent_source_label(code: str | None) -> str:
    """The label msgid of where a consent was recorded; "—" for none."""
    if not code:
        return "—"
    return CONSENT_SOURCES.get(code) or CONSENT_SOURCES.get(code.split(":")[0]) or humanise(code)


# Why a member moved along the funnel (``funnel_transitions.reason``, written in English by the
# members, orders and attention services): a pattern and its msgid, worded when read.
FUNNEL_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (r"^created$", N_("Profile created")),
        (r"^order (?P<ref>.+)$", N_("Order %(ref)s")),
        (r"^refund (?P<ref>.+)$", N_("Refund %(ref)s")),
        (r"^registration changed$", N_("Registration changed")),
        (r"^merged with member (?P<ref>\d+)$", N_("Merged with member #%(ref)s")),
        (r"^purchases older than a year$", N_("Last purchase over a year ago")),
        (r"^monthly review$", N_("Monthly review")),
        (r"^portal visit$", N_("Visited the member portal")),
        (r"^message opened$", N_("Opened a message")),
        (r"^message clicked$", N_("Clicked a message")),
        (r"^review written$", N_("Wrote a review")),
        (r"^community post$", N_("Posted in the community")),
        (r"^attention older than (?P<days>\d+) days$", N_("Attention older than %(days)s days")),
    )
)


@dataclass(frozen=True)
class Said:
    """A msgid and its values, translated by the template: ``_(said.msgid, **said.values)``."""

    msgid: str
    values: dict[str, str]


def funnel_reason(reason: str | None) -> Said:
    """Why a member moved along the funnel, as a msgid and its values; an unknown reason
    humanised."""
    for pattern, msgid in FUNNEL_REASONS:
        found = pattern.match(reason or "")
        if found:
            return Said(msgid, found.groupdict())
    return Said(humanise(reason) if reason else "—", {})


def humanise(code: str) -> str:
    """A code nobody labelled, made readable: ``demo-signup`` → ``Demo signup``."""
    text = " ".join(code.replace("_", " ").replace("-", " ").replace(":", " ").split())
    return text[:1].upper() + text[1:] if text else code


def source_label(code: str | None) -> str:
    """The label msgid of a member source; "—" for none."""
    if not code:
        return "—"
    return MEMBER_SOURCES.get(code) or MEMBER_SOURCES.get(code.split(":")[0]) or humanise(code)


# The parts of a message a template or a journey step fills in (engagement.templates
# CHANNEL_FIELDS), as the merchant knows them.
CONTENT_FIELDS = {
    "subject": N_("Subject"),
    "html": N_("Email body (HTML)"),
    "text": N_("Email body (plain text)"),
    "title": N_("Title"),
    "body": N_("Message"),
    "template_name": N_("WhatsApp template name"),
    "language": N_("Template language"),
    "parameters": N_("Template values"),
    "template_id": N_("WeChat template ID"),
    "data": N_("Template data"),
}


def content_field(code: str) -> str:
    """The label msgid of a message part; an unknown part humanised."""
    return CONTENT_FIELDS.get(code) or humanise(code)
