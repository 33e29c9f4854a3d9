"""Consent topics: one list per merchant that every consent, campaign and journey chooses from.

Each merchant starts with :data:`DEFAULT_TOPICS` (written when the merchant is created, and by
the migrations for merchants that existed before). ``marketing`` is the general topic: what
imports record (Shopify's "Accepts Email Marketing"), and the answer that counts for every
marketing message whose own topic the member never answered (ADR 0420). A code is fixed once
created (consents and messages refer to it); labels and the marketing flag can change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from patron.members.models import ConsentTopic

GENERAL = "marketing"
# A STOP, an unfollow or a complaint revokes every topic on a channel: not a topic of the list.
ALL_TOPICS = "*"
LOCALES = ("en", "zh_Hans")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class DefaultTopic:
    code: str
    en: str
    zh_hans: str
    marketing: bool


# What a tea shop (or any shop) needs on day one: the general marketing topic first, then the
# topics the ready-made journeys send on, then service messages. Braze calls these
# subscription groups, Klaviyo lists; Shopify has only the general "accepts marketing".
DEFAULT_TOPICS = (
    DefaultTopic(GENERAL, "Offers and news", "优惠与新品资讯", True),
    DefaultTopic("promotions", "Promotions", "促销活动", True),
    DefaultTopic("birthday", "Birthday gifts", "生日礼遇", True),
    DefaultTopic("festivals", "Festival greetings and offers", "节日问候与优惠", True),
    DefaultTopic("winback", "Come-back offers", "回归礼遇", True),
    DefaultTopic("top_up", "Stored value offers", "储值优惠", True),
    DefaultTopic("welcome", "Welcome messages", "新会员欢迎", False),
    DefaultTopic("aftercare", "After-sales care", "售后关怀", False),
    DefaultTopic("points", "Points reminders", "积分提醒", False),
    DefaultTopic("tiers", "Membership tier news", "会员等级变化", False),
    DefaultTopic("orders", "Orders and receipts", "订单与收据", False),
)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, object]]) -> None:
    maker = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = maker(ConsentTopic).on_conflict_do_nothing(index_elements=["merchant_id", "code"])
    session.execute(stmt, rows)


def ensure_topics(session: Session, merchant_id: int) -> None:
    """Write the default topics for a merchant that has none yet (safe to call twice, and under
    concurrency: a topic already there is left as it is)."""
    have = session.scalar(
        select(func.count())
        .select_from(ConsentTopic)
        .where(ConsentTopic.merchant_id == merchant_id)
    )
    if have:
        return
    now = utcnow(session)
    rows: list[dict[str, object]] = [
        {
            "merchant_id": merchant_id,
            "code": t.code,
            "labels": {"en": t.en, "zh_Hans": t.zh_hans},
            "marketing": t.marketing,
            "position": position,
            "created_at": now,
            "updated_at": now,
        }
        for position, t in enumerate(DEFAULT_TOPICS)
    ]
    _insert_ignoring_duplicates(session, rows)


def list_topics(session: Session, merchant_id: int) -> list[ConsentTopic]:
    """The merchant's topics in their order (the general marketing topic first). Only reads:
    a merchant's defaults are written when it is created (``patron.core.merchant_setup``)."""
    return list(
        session.scalars(
            select(ConsentTopic)
            .where(ConsentTopic.merchant_id == merchant_id)
            .order_by(ConsentTopic.position, ConsentTopic.id)
        )
    )


def topic_codes(session: Session, merchant_id: int) -> list[str]:
    return [t.code for t in list_topics(session, merchant_id)]


def check_topic(session: Session, merchant_id: int, code: str, *, allow_all: bool = False) -> str:
    """``code`` if it is one of the merchant's topics; a 422 naming the choices otherwise."""
    if allow_all and code == ALL_TOPICS:
        return code
    codes = topic_codes(session, merchant_id)
    if code not in codes:
        raise InvalidInput(
            f"unknown topic {code!r}: choose one of {', '.join(codes)}",
            code="unknown_topic",
            details={"topics": codes},
        )
    return code


def marketing_flags(session: Session, merchant_ids: Iterable[int]) -> dict[tuple[int, str], bool]:
    """(merchant, code) → is it a marketing topic, for every topic of these merchants."""
    ids = sorted(set(merchant_ids))
    rows = session.execute(
        select(ConsentTopic.merchant_id, ConsentTopic.code, ConsentTopic.marketing).where(
            ConsentTopic.merchant_id.in_(ids)
        )
    )
    return {(int(m), str(c)): bool(f) for m, c, f in rows}


def get_topic(session: Session, merchant_id: int, topic_id: int) -> ConsentTopic:
    """One topic of this merchant (404 for another merchant's)."""
    topic = session.get(ConsentTopic, topic_id)
    if topic is None or topic.merchant_id != merchant_id:
        raise NotFound("topic not found", code="topic_not_found")
    return topic


def _clean_labels(labels: dict[str, str], code: str) -> dict[str, str]:
    unknown = sorted(set(labels) - set(LOCALES))
    if unknown:
        raise InvalidInput(
            f"labels: languages are {', '.join(LOCALES)}, not {', '.join(unknown)}",
            code="invalid_topic_label",
        )
    cleaned = {k: v.strip() for k, v in labels.items() if v and v.strip()}
    if any(len(v) > 80 for v in cleaned.values()):
        raise InvalidInput("labels: at most 80 characters", code="invalid_topic_label")
    if "en" not in cleaned:
        cleaned["en"] = code.replace("_", " ").capitalize()
    return cleaned


def add_topic(
    session: Session, merchant_id: int, code: str, labels: dict[str, str], marketing: bool
) -> ConsentTopic:
    """A new topic at the end of the list; a taken code is a 409."""
    code = code.strip()
    if not _CODE.match(code):
        raise InvalidInput(
            "code: 2 to 40 lowercase letters, digits or _, starting with a letter",
            code="invalid_topic_code",
        )
    existing = list_topics(session, merchant_id)
    if any(t.code == code for t in existing):
        raise Conflict(f"the topic {code!r} exists", code="topic_exists")
    now = utcnow(session)
    topic = ConsentTopic(
        merchant_id=merchant_id,
        code=code,
        labels=_clean_labels(labels, code),
        marketing=marketing,
        position=max((t.position for t in existing), default=0) + 1,
        created_at=now,
        updated_at=now,
    )
    session.add(topic)
    session.flush()
    return topic


def update_topic(
    session: Session,
    merchant_id: int,
    topic_id: int,
    *,
    labels: dict[str, str] | None = None,
    marketing: bool | None = None,
) -> ConsentTopic:
    """Relabel a topic or change whether it is marketing (the code stays)."""
    topic = get_topic(session, merchant_id, topic_id)
    if marketing is not None and topic.code == GENERAL and not marketing:
        raise BusinessRuleViolation(
            "the general marketing topic is always a marketing topic", code="topic_is_general"
        )
    if labels is not None:
        topic.labels = {**topic.labels, **_clean_labels({**topic.labels, **labels}, topic.code)}
    if marketing is not None:
        topic.marketing = marketing
    topic.updated_at = utcnow(session)
    session.flush()
    return topic


def label(topic: ConsentTopic, locale: str) -> str:
    """The topic's words in ``locale`` (any Chinese locale reads zh_Hans), else English, else
    its code."""
    labels = topic.labels or {}
    wanted = "zh_Hans" if locale.startswith("zh") else "en"
    return labels.get(wanted) or labels.get("en") or topic.code


def labels_by_code(session: Session, merchant_id: int, locale: str) -> dict[str, str]:
    """code → label in ``locale``, for pages that show topics by code."""
    return {t.code: label(t, locale) for t in list_topics(session, merchant_id)}
