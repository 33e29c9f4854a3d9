"""Ready-made journeys a merchant switches on and adjusts (``create_from_library``).

Each entry builds (trigger, steps, exit rule, re-entry) from a few parameters. Messages go to the
member portal inbox (``in_app``) with English and Simplified Chinese text; a merchant changes the
channel, the text or a template in the steps afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Params = dict[str, Any]
# One after-sales series per member per this many days, however often they buy.
AFTER_SALES_REENTRY_DAYS = 30


@dataclass(frozen=True)
class LibraryJourney:
    key: str
    name: str
    description: str
    build: Callable[[Params], dict[str, Any]]


def _send(
    step_id: str,
    en: tuple[str, str],
    zh: tuple[str, str],
    kind: str = "marketing",
    topic: str = "marketing",
    link: str | None = None,
) -> dict[str, Any]:
    extra = {"link": link} if link else {}
    return {
        "id": step_id,
        "type": "send",
        "channel": "in_app",
        "kind": kind,
        "topic": topic,
        "content": {
            "en": {"title": en[0], "body": en[1], **extra},
            "zh_Hans": {"title": zh[0], "body": zh[1], **extra},
        },
    }


def _coupon(p: Params) -> list[dict[str, Any]]:
    return (
        [{"id": "gift", "type": "coupon", "template_id": p["coupon_template_id"]}]
        if p.get("coupon_template_id")
        else []
    )


def _welcome(p: Params) -> dict[str, Any]:
    return {
        "trigger": {"event": "member.created", "filter": {"registered": True}},
        "reentry": "once",
        "exit_rule": None,
        "steps": [
            _send(
                "hello",
                ("Welcome, {{ member.greeting_name }}", "Glad to have you."),
                ("欢迎，{{ member.greeting_name }}", "很高兴您加入。"),
                kind="care",
                topic="welcome",
            ),
            {"id": "wait1", "type": "wait", "days": p.get("days", 2)},
            _send(
                "points",
                ("How points work", "Every purchase earns points."),
                ("积分怎么用", "每次消费都能赚积分。"),
                topic="welcome",
            ),
            {"id": "wait2", "type": "wait", "days": p.get("days", 2) * 2},
            _send(
                "first",
                ("Your first visit", "Come and see us this week."),
                ("首次光临", "本周欢迎到店。"),
                topic="welcome",
            ),
        ],
    }


def _after_sales(p: Params) -> dict[str, Any]:
    """How is it going (``days`` after the order), then a review invitation (``days`` later).

    Care, not marketing, and at most one series per member per ``reentry_days`` (30): someone
    who buys twelve times in a month hears from us twice, not 24 times (ADR 0412)."""
    days = p.get("days", 3)
    return {
        "trigger": {"event": "order.created"},
        "reentry": "after_days",
        "reentry_days": p.get("reentry_days", AFTER_SALES_REENTRY_DAYS),
        "exit_rule": None,
        "steps": [
            {"id": "wait1", "type": "wait", "days": days},
            _send(
                "how",
                ("How is it going?", "Tell us how you like your purchase."),
                ("使用得怎么样？", "告诉我们您的感受。"),
                kind="care",
                topic="aftercare",
            ),
            {"id": "wait2", "type": "wait", "days": days},
            _send(
                "review",
                ("Would you write a review?", "It helps other customers."),
                ("写个评价吧", "您的评价能帮助其他顾客。"),
                kind="care",
                topic="aftercare",
                link="{{ links.review }}",
            ),
        ],
    }


def _birthday(p: Params) -> dict[str, Any]:
    return {
        "trigger": {"date": "birthday"},
        "reentry": "per_key",
        "exit_rule": None,
        "steps": [
            *_coupon(p),
            _send(
                "greet",
                ("Happy birthday, {{ member.greeting_name }}!", "A gift is waiting."),
                ("生日快乐，{{ member.greeting_name }}！", "礼物已为您准备好。"),
                topic="birthday",
            ),
        ],
    }


def _festival(p: Params) -> dict[str, Any]:
    return {
        "trigger": {
            "date": "festival",
            "festival": p.get("festival", "mid_autumn"),
            "days_before": p.get("days_before", 0),
        },
        "reentry": "per_key",
        "exit_rule": None,
        "steps": [
            *_coupon(p),
            _send(
                "greet",
                ("Season's greetings", "Best wishes from all of us."),
                ("节日快乐", "全体同仁祝您节日快乐。"),
                topic="festivals",
            ),
        ],
    }


def _win_back(p: Params) -> dict[str, Any]:
    return {
        "trigger": {"event": "segment.entered", "filter": {"segment_id": p["segment_id"]}},
        "reentry": "after_days",
        "reentry_days": p.get("reentry_days", 90),
        "exit_rule": {"purchase": True},
        "steps": [
            *_coupon(p),
            _send(
                "miss",
                ("We miss you", "Come back for something new."),
                ("好久不见", "回来看看新品吧。"),
                topic="winback",
            ),
            {"id": "wait1", "type": "wait", "days": 7},
            _send(
                "last",
                ("Still thinking of you", "Your gift expires soon."),
                ("还在想念您", "您的礼物即将过期。"),
                topic="winback",
            ),
        ],
    }


def _simple(
    event: str,
    en: tuple[str, str],
    zh: tuple[str, str],
    topic: str,
    kind: str = "care",
    event_filter: dict[str, Any] | None = None,
) -> Callable[[Params], dict[str, Any]]:
    def build(p: Params) -> dict[str, Any]:
        return {
            "trigger": {"event": event, "filter": {**(event_filter or {}), **p.get("filter", {})}},
            "reentry": "per_key",
            "exit_rule": None,
            "steps": [*_coupon(p), _send("notify", en, zh, kind=kind, topic=topic)],
        }

    return build


def _promotion(p: Params) -> dict[str, Any]:
    return {
        "trigger": {"manual": "promotion"},
        "reentry": "per_key",
        "exit_rule": None,
        "steps": [
            _send(
                "promo",
                ("{{ product.name }} is on promotion", "Picked for your taste."),
                ("{{ product.name }} 正在促销", "按您的喜好为您挑选。"),
                topic="promotions",
            ),
        ],
    }


LIBRARY: dict[str, LibraryJourney] = {
    j.key: j
    for j in (
        LibraryJourney("welcome", "Welcome series", "three messages over the first week", _welcome),
        LibraryJourney("after_sales", "After-sales care", "N days after a purchase", _after_sales),
        LibraryJourney(
            "birthday", "Birthday greeting", "on the member's local birthday", _birthday
        ),
        LibraryJourney("festival", "Festival greeting", "Chinese and Western festivals", _festival),
        LibraryJourney("win_back", "Win-back", "members entering a sleeping segment", _win_back),
        LibraryJourney(
            "points_expiring",
            "Points expiring reminder",
            "when points are about to expire",
            _simple(
                "points.expiring_soon",
                ("Your points expire soon", "Use them before they go."),
                ("积分即将过期", "请尽快使用。"),
                "points",
            ),
        ),
        LibraryJourney(
            "tier_up",
            "Tier up congratulation",
            "when a member moves up a tier",
            _simple(
                "tier.changed",
                ("Congratulations!", "You reached a new tier."),
                ("恭喜升级！", "您已升至新的等级。"),
                "tiers",
                event_filter={"direction": "up"},
            ),
        ),
        LibraryJourney(
            "top_up_reminder",
            "Top-up balance reminder",
            "members entering a low-balance segment",
            _simple(
                "segment.entered",
                ("Top up your balance", "Top up and get a bonus."),
                ("余额提醒", "充值享赠送。"),
                "top_up",
                kind="marketing",
            ),
        ),
        LibraryJourney(
            "promotion",
            "Preference-matched promotion",
            "tell members who like a product's category or tags",
            _promotion,
        ),
    )
}
