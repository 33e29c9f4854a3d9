"""Find words left in English on a page shown in Chinese (issue 10, defect 8).

A page rendered for a Chinese reader holds no English of ours. What may stay in Latin letters:
the shop's own data as the merchant or member typed it (product, store, coupon, campaign names,
template text, preferences), people's names and addresses, codes a person types or reads aloud
(SKUs, order numbers, coupon codes), template variables (``{{ member.display_name }}``), and the
names of products and standards (WeChat, CSV, SMTP). Any other Latin word is one we forgot.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

from patron.core.db import Base

# Names of things, standards and units: the same in Chinese text.
PROPER = frozenset(
    [
        "Patron",
        "Apple",
        "Google",
        "PEM",
        "WWDR",
        "WeChat",
        "WhatsApp",
        "SMS",
        "SMTP",
        "SSL",
        "TLS",
        "STARTTLS",
        "CSV",
        "QR",
        "SKU",
        "API",
        "URL",
        "HTML",
        "Email",
        "Shopify",
        "WooCommerce",
        "Excel",
        "WebP",
        "GBK",
        "UTF",
        "BOM",
        "RFM",
        "CLV",
        "BG",
        "NBD",
        "MBG",
        "Pareto",
        "Gamma",
        "Kaplan",
        "Meier",
        "DAU",
        "MAU",
        "ID",
        "IDs",
        "AppID",
        "AppSecret",
        "Token",
        "Twilio",
        "Account",
        "SID",
        "Meta",
        "Cloud",
        "Business",
        "Manager",
        "Webhook",
        "JavaScript",
        "Idempotency-Key",
        "MB",
        "KB",
        "GB",
        "UTC",
        "GMT",
        "PostgreSQL",
        "SQLite",
        "DuckDB",
        "POS",
        "JSON",
        "OK",
        "English",
        "iPhone",
        "Android",
        "http",
        "https",
        "www",
        "com",
        "patron",
        "Gamma-Gamma",
        # A payment provider's name, and the prefixes its console prints on its keys.
        "Stripe",
        "pk",
        "sk",
        "rk",
        "whsec",
    ]
)
# What a template may say: its variables' names (the merchant types these).
TEMPLATE_WORDS = frozenset(
    [
        "member",
        "merchant",
        "tier",
        "balance",
        "coupon",
        "product",
        "links",
        "first_name",
        "last_name",
        "display_name",
        "greeting_name",
        "email",
        "phone",
        "birthday",
        "locale",
        "funnel_stage",
        "name",
        "slug",
        "currency",
        "level",
        "points",
        "stored_value",
        "points_expiring",
        "points_expiring_at",
        "code",
        "title",
        "value",
        "expires_at",
        "sku",
        "price",
        "category",
        "url",
        "unsubscribe",
        "portal",
        "shop",
        "id",
    ]
)
# The names of the actions the member portal reports itself (ADR 1321): a merchant types them
# as an action's name, so the rewarded-actions form names them as they are.
ACTION_NAMES = frozenset(["birthday_given", "profile_completed", "review_written"])
WORD = re.compile(r"[A-Za-z][A-Za-z_'’-]*[A-Za-z]")
TEMPLATE_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
# A code read aloud: capitals and digits (T-YYTS-P, LJ-50G, VIP).
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
EMAIL = re.compile(r"\S+@\S+")
# Host names (smtp.example.com) and the CLI's commands (patron import).
HOST_OR_COMMAND = re.compile(r"\b[\w-]+(?:\.[\w-]+)+\b|\bpatron [a-z]+\b")
# Columns holding the merchant's and the members' own words (and codes people read).
DATA_COLUMNS = frozenset(
    [
        "name",
        "title",
        "category",
        "description",
        "first_name",
        "last_name",
        "email",
        "phone",
        "external_id",
        "sku",
        "code",
        "city",
        "note",
        "filename",
        "tags",
        "slug",
        "address",
        "preferences",
        "variants",
        "steps",
        "content",
        "label",
        "tag",
        "reason",
        "rows",
    ]
)


# Texts members and staff wrote, in columns whose names are too general for the list above.
WRITTEN = frozenset(
    {
        ("reviews", "body"),
        ("reviews", "reply"),
        ("reviews", "hidden_reason"),
        ("service_cases", "subject"),
        ("case_events", "body"),
    }
)


# Our own words kept in the data (worded when read, so not the shop's).
OURS = frozenset(
    {
        ("journal_entries", "description"),
        ("funnel_transitions", "reason"),
        ("import_rejects", "reason"),
    }
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def data_words(session: Session) -> set[str]:
    """Every Latin word in the shop's own data (names, texts, notes the merchant typed)."""
    found: set[str] = set()
    for mapper in Base.registry.mappers:
        table: Any = mapper.local_table
        columns = [
            c
            for c in table.columns
            if isinstance(c.type, String | Text | JSON)
            and (
                c.name in DATA_COLUMNS
                or c.name.endswith("_name")
                or (table.name, c.name) in WRITTEN
            )
            and (table.name, c.name) not in OURS
        ]
        for row in session.execute(select(*columns)).all() if columns else []:
            for text in _strings(list(row)):
                found.update(WORD.findall(TEMPLATE_EXPRESSION.sub(" ", text)))
    return found


def english_words(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The Latin words of ``text`` (visible text, one node a line) that are not the shop's
    data, names of things, template variables or codes."""
    left = []
    for line in text.splitlines():
        line = HOST_OR_COMMAND.sub(" ", EMAIL.sub(" ", TEMPLATE_EXPRESSION.sub(" ", line)))
        for word in WORD.findall(line):
            if (
                word in allowed
                or word in PROPER
                or word in TEMPLATE_WORDS
                or word in ACTION_NAMES
                or CODE.match(word)
            ):
                continue
            left.append(word)
    return left
