"""Labels for codes that reach the screen from the data: where a member's profile came from
(``members.source``). A code with no label is shown humanised (``demo-signup`` → ``Demo
signup``), never raw. Labels are English msgids; the caller translates them."""

from __future__ import annotations

from patron.web.i18n import N_

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
}


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
