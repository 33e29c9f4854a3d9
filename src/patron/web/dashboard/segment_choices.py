"""The lists a segment rule's value is chosen from, in the reader's words: the fixed ones (stage,
gender…) and the merchant's own (stores, tiers, tags, categories, products, coupons, sources,
languages and cities members actually have). Every query is scoped to the merchant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.coupons.models import CouponTemplate
from patron.i18n import LANGUAGES, Formatter
from patron.i18n.labels import humanise, source_label
from patron.members import topics
from patron.members.models import Member, MemberConsent, MemberTag
from patron.orders.models import Product
from patron.programs import rules as program_rules
from patron.programs.models import MemberTier
from patron.tenancy.models import Store
from patron.web.dashboard.segment_words import FIXED_CHOICES

Choices = dict[str, list[tuple[str, str]]]
Tr = Callable[..., str]
LONG_LIST = 200  # a list longer than this offers the most used values first


def _distinct(session: Session, column: Any, *where: Any, limit: int = LONG_LIST) -> list[str]:
    rows = session.execute(
        select(column, func.count())
        .where(*where, column.is_not(None))
        .group_by(column)
        .order_by(func.count().desc(), column)
        .limit(limit)
    )
    return [str(value) for value, _count in rows if str(value).strip()]


def _tiers(session: Session, merchant_id: int) -> list[tuple[str, str]]:
    rule = program_rules.tiers_rule(session, merchant_id, utcnow(session))
    named = [(t.code, t.name) for t in rule.config.tiers] if rule else []
    held = _distinct(session, MemberTier.tier_code, MemberTier.merchant_id == merchant_id)
    return named + [(code, humanise(code)) for code in held if code not in dict(named)]


def _topics(session: Session, merchant_id: int, tr: Tr, locale: str) -> list[tuple[str, str]]:
    """The merchant's consent topics in the reader's language ("marketing", the general one,
    first), then any other code members have answered about (ADR 0420)."""
    listed = [(t.code, topics.label(t, locale)) for t in topics.list_topics(session, merchant_id)]
    codes = _distinct(session, MemberConsent.topic, MemberConsent.merchant_id == merchant_id)
    known = {code for code, _label in listed}
    return listed + [(c, tr(humanise(c))) for c in codes if c not in known and c != "*"]


def load_choices(session: Session, merchant_id: int, tr: Tr, fmt: Formatter) -> Choices:
    """Every list the builder offers, as (stored value, label) pairs."""
    mine = Member.merchant_id == merchant_id
    choices: Choices = {
        name: [(value, tr(label)) for value, label in pairs]
        for name, pairs in FIXED_CHOICES.items()
    }
    languages = list(LANGUAGES) + [
        code for code in _distinct(session, Member.locale, mine) if code not in LANGUAGES
    ]
    choices["language"] = [(code, fmt.language_name(code)) for code in languages]
    choices["source"] = [
        (code, tr(source_label(code))) for code in _distinct(session, Member.source, mine)
    ]
    stores = session.execute(
        select(Store.id, Store.name).where(Store.merchant_id == merchant_id).order_by(Store.id)
    )
    choices["store"] = [(str(i), str(n)) for i, n in stores]
    choices["tier"] = _tiers(session, merchant_id)
    choices["city"] = [(c, c) for c in _distinct(session, Member.address["city"].as_string(), mine)]
    tags = _distinct(session, MemberTag.tag, MemberTag.merchant_id == merchant_id)
    choices["tag"] = [(t, t) for t in tags]
    mine_products = Product.merchant_id == merchant_id
    choices["category"] = [
        (c, c) for c in sorted(_distinct(session, Product.category, mine_products))
    ]
    products = session.execute(
        select(Product.sku, Product.name).where(mine_products).order_by(Product.name).limit(500)
    )
    choices["product"] = [(str(sku), f"{name} ({sku})") for sku, name in products]
    coupons = session.execute(
        select(CouponTemplate.id, CouponTemplate.name)
        .where(CouponTemplate.merchant_id == merchant_id)
        .order_by(CouponTemplate.name)
    )
    choices["coupon"] = [(str(i), str(n)) for i, n in coupons]
    choices["topic"] = _topics(session, merchant_id, tr, fmt.language.code)
    return choices
