"""An example request body for every operation that takes one, in a tea house's words.

They read as one shop's first days: a store, a till's key, members, products, a sale, a refund,
coupons, a mall, a campaign. Ids point at what an earlier example creates on a fresh merchant
(member 1 is Mei Lin, product 1 the jasmine tea), so a reader can follow them in order.
``patron.core.openapi`` puts each on its operation's request body; tests/test_request_examples.py
checks that each validates against its schema and that the ones needing nothing before them are
accepted by the server (ADR 0034).
"""

from __future__ import annotations

from typing import Any

MEI = 1  # the member the first create_member example makes
LEE = 2

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    # The shop and its keys
    "create_store": {"code": "SH-JINGAN", "name": "Jing'an flagship", "channel": "store"},
    "create_api_key": {"name": "Till 1, Jing'an", "role": "clerk"},
    # Members
    "create_member": {
        "first_name": "Mei",
        "last_name": "Lin",
        "phone": "+8613800138000",
        "email": "mei.lin@example.com",
        "birthday": "1990-04-18",
        "tags": ["oolong-lover"],
        "consents": [{"channel": "email", "granted": True, "topic": "marketing"}],
    },
    "update_member": {"email": "mei@example.com", "preferences": {"categories": ["oolong"]}},
    "add_member_tags": {"tags": ["vip", "tasting-club"]},
    "add_member_note": {"body": "Prefers her tea less sweet; asked about the autumn tasting."},
    "set_member_consent": {"channel": "sms", "granted": True, "topic": "promotions"},
    "merge_members": {"other_member_id": LEE},
    "erase_member": {"reason": "The member asked us to delete her data (email of 2 May)."},
    "create_consent_topic": {
        "code": "tasting_events",
        "labels": {"en": "Tasting events", "zh_Hans": "品鉴活动"},
        "marketing": True,
    },
    "update_consent_topic": {"labels": {"en": "Tea tastings", "zh_Hans": "品茶会"}},
    # Catalogue, orders, refunds
    "create_product": {
        "sku": "TEA-JASMINE",
        "name": "Jasmine tea, 250 g",
        "category": "green tea",
        "price_minor": 6800,
    },
    "update_product": {"price_minor": 7200, "tags": ["autumn"]},
    "create_order": {
        "external_id": "POS-2026-000123",
        "member_id": MEI,
        "lines": [{"sku": "TEA-JASMINE", "quantity": 2}],
    },
    "refund_order": {
        "external_id": "RF-2026-000045",
        "lines": [{"line_no": 1, "quantity": 1}],
        "reason": "One tin arrived dented",
    },
    # Segments
    "preview_segment": {"rules": {"all": [{"field": "tag", "op": "has", "value": "vip"}]}},
    "create_segment": {
        "name": "VIP tea lovers",
        "description": "Members tagged vip",
        "rules": {"all": [{"field": "tag", "op": "has", "value": "vip"}]},
    },
    "update_segment": {"description": "Members tagged vip, for the autumn tasting"},
    # Webhooks
    "create_webhook_endpoint": {
        "url": "https://erp.example.com/patron/webhooks",
        "event_types": ["order.created", "member.created"],
        "description": "Our ERP",
    },
    "update_webhook_endpoint": {"active": False},
    # Messages
    "put_channel": {
        "enabled": True,
        "credentials": {
            "account_sid": "AC0123456789",
            "auth_token": "your-auth-token",
            "from_number": "+15550001111",
        },
    },
    "put_message_policy": {
        "cap_messages": 4,
        "cap_window_days": 7,
        "care_cap_messages": 2,
        "quiet_hours_enabled": True,
        "quiet_start": "21:00",
        "quiet_end": "09:00",
    },
    "create_template": {
        "name": "Autumn tasting invitation",
        "channel": "sms",
        "variants": {
            "en": {"body": "Hi {{ member.first_name }}, join our autumn tea tasting on Saturday!"},
            "zh_Hans": {"body": "{{ member.first_name }}，欢迎参加周六的秋季品茶会！"},
        },
    },
    "update_template": {"name": "Autumn tasting invitation (final)"},
    "preview_template": {"member_id": MEI, "locale": "en"},
    # Balances and programs
    "adjust_member_balance": {
        "asset": "points",
        "amount": 200,
        "reason_code": "goodwill",
        "description": "Sorry for the long wait on Saturday",
    },
    "put_program_rule": {"config": {"earn_points": 1, "per_minor": 100}},
    "record_member_action": {
        "action": "review_written",
        "event_id": "review-20260518-0042",
        "details": {"stars": 5},
    },
    "top_up": {"amount_minor": 50000},
    # The till
    "checkout_quote": {
        "member_id": MEI,
        "lines": [{"sku": "TEA-JASMINE", "quantity": 1}],
    },
    "checkout_commit": {
        "member_id": MEI,
        "lines": [{"sku": "TEA-JASMINE", "quantity": 1}],
        "order_external_id": "POS-2026-000124",
    },
    # Coupons, the points mall, gifts
    "create_coupon_template": {
        "name": "CN¥20 off CN¥100",
        "kind": "amount_off",
        "amount_off_minor": 2000,
        "min_spend_minor": 10000,
        "valid_days": 30,
        "per_member_limit": 1,
    },
    "update_coupon_template": {"total_limit": 500},
    "issue_coupon": {"member_id": MEI},
    "issue_coupons_bulk": {"member_ids": [MEI, LEE]},
    "validate_coupons": {
        "codes": ["TEA20-7KQ3M"],
        "member_id": MEI,
        "lines": [{"sku": "TEA-JASMINE", "quantity": 2}],
    },
    "void_coupon": {"reason": "Issued to the wrong member"},
    "create_mall_item": {
        "kind": "gift",
        "name": "Celadon tea cup",
        "points_price": 800,
        "stock": 50,
        "per_member_limit": 2,
    },
    "update_mall_item": {"points_price": 700, "stock": 80},
    "redeem_mall_item": {"member_id": MEI, "item_id": 1, "quantity": 1},
    "update_mall_order": {"status": "ready", "note": "Ready for pickup at Jing'an"},
    "create_gift_rule": {
        "name": "Free sample over CN¥200",
        "min_spend_minor": 20000,
        "gift_sku": "SAMPLE-OOLONG",
        "gift_name": "Oolong sample, 10 g",
        "stock": 300,
    },
    "update_gift_rule": {"stock": 150},
    # Campaigns and journeys
    "create_campaign": {
        "name": "Autumn tasting invitation",
        "member_ids": [MEI, LEE],
        "channel": "sms",
        "template_id": 1,
        "topic": "promotions",
    },
    "update_campaign": {"name": "Autumn tasting invitation, second wave"},
    "launch_campaign": {"at": "2026-10-01T02:00:00Z"},
    "create_journey": {
        "name": "Thank you after a first purchase",
        "trigger": {"event": "order.created"},
        "steps": [{"id": "wait", "type": "wait", "days": 1}, {"id": "end", "type": "exit"}],
    },
    "create_journey_from_library": {"key": "after_sales", "params": {"days": 7}},
    "update_journey": {"name": "Thank you after a purchase"},
    "switch_journey": {"on": True},
    "promote_product": {"product_id": 1},
}
