"""Exact discounts per coupon kind on a cart: caps, minimum spend, eligibility, stacking, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.coupons.benefits import COUPONS
from patron.programs.benefits import Benefit, Cart
from tests.conftest import Tenant
from tests.coupons.helpers import cart, issue, template
from tests.programs.helpers import new_member

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def evaluate(
    sessions: sessionmaker[Session],
    t: Tenant,
    member_id: int,
    the_cart: Cart,
    codes: list[str],
    at: datetime = NOW,
) -> list[Benefit]:
    with transaction(sessions) as s:
        return COUPONS.evaluate(s, t.merchant_id, member_id, the_cart, codes, at)


def refused(
    sessions: sessionmaker[Session],
    t: Tenant,
    member_id: int,
    the_cart: Cart,
    codes: list[str],
    at: datetime = NOW,
) -> str:
    with pytest.raises(PatronError) as err:
        evaluate(sessions, t, member_id, the_cart, codes, at)
    return err.value.code


def test_amount_off_is_an_order_discount_never_above_the_cart(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = new_member(sessions, tenant.merchant_id)
    code = issue(sessions, tenant.merchant_id, template(sessions, tenant.merchant_id), m)
    [b] = evaluate(sessions, tenant, m, cart(("TEA", "tea", 2, 3000)), [code])
    assert (b.kind, b.amount_minor, b.line_no, b.code) == ("discount", 1000, None, code)
    small = issue(sessions, tenant.merchant_id, template(sessions, tenant.merchant_id), m)
    [b] = evaluate(sessions, tenant, m, cart(("CANDY", "food", 1, 650)), [small])
    assert b.amount_minor == 650


def test_percentage_rounds_down_and_stops_at_its_cap(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = new_member(sessions, tenant.merchant_id)
    tid = template(
        sessions,
        tenant.merchant_id,
        kind="percent_off",
        percent_off=15,
        max_discount_minor=2000,
        amount_off_minor=None,
    )
    [b] = evaluate(
        sessions,
        tenant,
        m,
        cart(("TEA", "tea", 1, 9999)),
        [issue(sessions, tenant.merchant_id, tid, m)],
    )
    assert b.amount_minor == 1499  # 15% of 99.99 = 14.9985 → 14.99
    [b] = evaluate(
        sessions,
        tenant,
        m,
        cart(("TEA", "tea", 3, 10000)),
        [issue(sessions, tenant.merchant_id, tid, m)],
    )
    assert b.amount_minor == 2000  # 45.00 capped at 20.00


def test_minimum_spend_counts_eligible_lines_after_member_discounts(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = new_member(sessions, tenant.merchant_id)
    tid = template(sessions, tenant.merchant_id, min_spend_minor=10000, categories=["tea"])
    code = issue(sessions, tenant.merchant_id, tid, m)
    # 120.00 of goods but only 80.00 of tea: not enough.
    short = cart(("TEA", "tea", 1, 8000), ("CUP", "ware", 1, 4000))
    assert refused(sessions, tenant, m, short, [code]) == "coupon_min_spend_not_met"
    # Tea 100.00 and a cup 50.00: 10.00 off, shared over the tea line only.
    [b] = evaluate(
        sessions, tenant, m, cart(("TEA", "tea", 1, 10000), ("CUP", "ware", 1, 5000)), [code]
    )
    assert (b.amount_minor, b.line_no) == (1000, 1)
    # Tier discount of 1.00 on the tea line brings it below 100.00.
    assert refused(sessions, tenant, m, cart(("TEA", "tea", 1, 10000), discount=100), [code]) == (
        "coupon_min_spend_not_met"
    )


def test_category_and_sku_eligibility_split_over_the_eligible_lines(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = new_member(sessions, tenant.merchant_id)
    tid = template(
        sessions,
        tenant.merchant_id,
        kind="percent_off",
        percent_off=10,
        amount_off_minor=None,
        categories=["tea"],
        skus=["CUP-GOLD"],
    )
    code = issue(sessions, tenant.merchant_id, tid, m)
    the_cart = cart(
        ("TEA", "tea", 1, 6000), ("CUP", "ware", 1, 3000), ("CUP-GOLD", "ware", 1, 4000)
    )
    benefits = evaluate(sessions, tenant, m, the_cart, [code])
    assert [(b.line_no, b.amount_minor) for b in benefits] == [(1, 600), (3, 400)]
    none = cart(("CUP", "ware", 1, 3000))
    assert refused(sessions, tenant, m, none, [code]) == "coupon_min_spend_not_met"


def test_stacking_rules(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    m = new_member(sessions, tenant.merchant_id)
    mid = tenant.merchant_id
    stack = template(sessions, mid, name="5 off", amount_off_minor=500, stackable=True)
    alone = template(sessions, mid, name="exclusive", stackable=False)
    a, b = issue(sessions, mid, stack, m), issue(sessions, mid, stack, m)
    c = issue(sessions, mid, alone, m)
    the_cart = cart(("TEA", "tea", 1, 5000))
    both = evaluate(sessions, tenant, m, the_cart, [a, b])
    assert [x.amount_minor for x in both] == [500, 500]
    assert refused(sessions, tenant, m, the_cart, [a, c]) == "coupon_not_stackable"
    assert refused(sessions, tenant, m, the_cart, [a, a.lower()]) == "coupon_repeated"
    no_member_discounts = template(sessions, mid, with_member_discounts=False)
    d = issue(sessions, mid, no_member_discounts, m)
    assert refused(sessions, tenant, m, cart(("TEA", "tea", 1, 5000), discount=250), [d]) == (
        "coupon_not_combinable"
    )
    assert [x.amount_minor for x in evaluate(sessions, tenant, m, the_cart, [d])] == [1000]


def test_free_gift_and_store_limits(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    m = new_member(sessions, tenant.merchant_id)
    tid = template(
        sessions,
        tenant.merchant_id,
        kind="free_gift",
        amount_off_minor=None,
        gift_sku="CUP-1",
        gift_name="Celadon cup",
        store_ids=[tenant.store_id],
    )
    code = issue(sessions, tenant.merchant_id, tid, m)
    [b] = evaluate(
        sessions, tenant, m, cart(("TEA", "tea", 1, 100), store_id=tenant.store_id), [code]
    )
    assert (b.kind, b.gift_sku, b.gift_name, b.gift_quantity) == ("gift", "CUP-1", "Celadon cup", 1)
    online = cart(("TEA", "tea", 1, 100), store_id=tenant.online_store_id)
    assert refused(sessions, tenant, m, online, [code]) == "coupon_not_usable"


def test_validity_windows_with_the_clock(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    m = new_member(sessions, tenant.merchant_id)
    other = new_member(sessions, tenant.merchant_id, phone="+8613800000002")
    mid = tenant.merchant_id
    rolling = issue(sessions, mid, template(sessions, mid, valid_days=7), m)
    window = issue(
        sessions,
        mid,
        template(
            sessions, mid, valid_from=NOW + timedelta(days=2), valid_to=NOW + timedelta(days=30)
        ),
        m,
    )
    the_cart = cart(("TEA", "tea", 1, 5000))
    assert (
        len(evaluate(sessions, tenant, m, the_cart, [rolling], NOW + timedelta(days=6, hours=23)))
        == 1
    )
    assert (
        refused(sessions, tenant, m, the_cart, [rolling], NOW + timedelta(days=7))
        == "coupon_not_usable"
    )
    assert (
        refused(sessions, tenant, m, the_cart, [window], NOW + timedelta(days=1))
        == "coupon_not_usable"
    )
    assert len(evaluate(sessions, tenant, m, the_cart, [window], NOW + timedelta(days=2))) == 1
    assert (
        refused(sessions, tenant, m, the_cart, [window], NOW + timedelta(days=30))
        == "coupon_not_usable"
    )
    assert (
        refused(sessions, tenant, other, the_cart, [window], NOW + timedelta(days=3))
        == "coupon_not_usable"
    )
    assert refused(sessions, tenant, m, the_cart, ["NOSUCHCODE"]) == "coupon_not_found"
