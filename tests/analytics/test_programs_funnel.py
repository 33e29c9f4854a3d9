"""Funnel and program metrics on hand-built rows (answers worked out in the comments)."""

from __future__ import annotations

import math
from datetime import date

from patron.analytics.suite import compute_suite
from tests.analytics.builders import Shop, ts
from tests.analytics.conftest import duck_of

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def test_funnel_counts_and_conversion() -> None:
    s = Shop()
    # Member 1: created Dec as user, → customer Jan 05, → member Feb 10.
    # Member 2: created Jan 02 as user (first move has from_stage user), → customer Feb 03.
    # Member 3: imported Jan 20 straight as a customer, no history.
    # Member 4: created by a move from nothing to user on Feb 01 (from_stage NULL).
    s.member(1, created="2025-12-01", stage="member")
    s.member(2, created="2026-01-02", stage="customer")
    s.member(3, created="2026-01-20", stage="customer")
    s.member(4, created="2026-02-01", stage="user")
    s.move(1, "user", "customer", "2026-01-05")
    s.move(1, "customer", "member", "2026-02-10")
    s.move(2, "user", "customer", "2026-02-03")
    s.move(4, None, "user", "2026-02-01")
    suite = compute_suite(duck_of(s), 1, JAN, date(2026, 3, 1))
    counts = suite["funnel_counts"]
    got = {(p, st): n for p, st, n in counts.itertuples(index=False) if n}
    # End of Jan: 1 customer(1), 2 user, 3 customer → user 1, customer 2.
    # End of Feb: 1 member, 2 customer, 3 customer, 4 user → user 1, customer 2, member 1.
    assert got == {
        (JAN, "user"): 1,
        (JAN, "customer"): 2,
        (FEB, "user"): 1,
        (FEB, "customer"): 2,
        (FEB, "member"): 1,
    }
    conv = suite["funnel_conversion"]
    rows = {(p, f, t): (a, c) for p, f, t, a, c, _r in conv.itertuples(index=False)}
    # Jan opens with member 1 as user (members 2 and 3 arrive during January): member 1 is a
    # customer by the end → user→customer 1 of 1. Feb opens with 1 user (member 2) and 2
    # customers (1, 3): member 2 ends a customer (1 of 1), member 1 a member (1 of 2); member
    # 4, created by its move during February, was in no stage when February opened.
    assert rows == {
        (JAN, "user", "customer"): (1, 1),
        (JAN, "customer", "member"): (0, 0),
        (JAN, "member", "fan"): (0, 0),
        (FEB, "user", "customer"): (1, 1),
        (FEB, "customer", "member"): (2, 1),
        (FEB, "member", "fan"): (0, 0),
    }
    rates = conv.conversion_rate.tolist()
    assert rates[0] == 1.0 and rates[3:5] == [1.0, 0.5]
    assert all(math.isnan(r) for r in (rates[1], rates[2], rates[5]))


def _post(s: Shop, entry: int, at: str, member: int, asset: str, amount: int, account: str) -> None:
    """A two-leg entry in the ledger's three tables: the member's side and the merchant's."""
    s.row("journal_entries", id=entry, reason_code="test", occurred_local=ts(at))
    accounts = s.extra.setdefault("ledger_accounts", [])
    for mid, code, amt in ((member, asset, amount), (None, account, -amount)):
        found = [a["id"] for a in accounts if (a["member_id"], a["code"]) == (mid, code)]
        if not found:
            found = [len(accounts) + 1]
            s.row("ledger_accounts", id=found[0], member_id=mid, code=code, asset=asset)
        postings = s.extra.setdefault("ledger_postings", [])
        s.row(
            "ledger_postings",
            id=len(postings) + 1,
            entry_id=entry,
            account_id=found[0],
            asset=asset,
            amount=amt,
        )


def test_points_liability_breakage_and_stored_value() -> None:
    s = Shop()
    _post(s, 1, "2025-12-20", 1, "points", 100, "points_issued")  # before the window
    _post(s, 2, "2026-01-10", 1, "points", 50, "points_issued")
    _post(s, 3, "2026-01-15", 1, "points", -30, "points_redeemed")
    _post(s, 4, "2026-02-01", 2, "points", 200, "points_issued")
    _post(s, 5, "2026-02-28", 1, "points", -20, "points_expired")
    _post(s, 6, "2026-01-03", 2, "stored_principal", 10000, "cash_received")
    _post(s, 7, "2026-01-03", 2, "stored_bonus", 2000, "bonus_issued")
    _post(s, 8, "2026-02-14", 2, "stored_principal", -4000, "sales_paid")
    suite = compute_suite(duck_of(s), 1, JAN, date(2026, 3, 1))
    flows = suite["points_flows"]
    # Jan: issued 50, redeemed 30; Feb: issued 200, expired 20.
    assert flows.to_dict("list") == {
        "period": [JAN, FEB],
        "issued": [50, 200],
        "redeemed": [30, 0],
        "expired": [0, 20],
    }
    assert suite["breakage_rate"] == 20 / 50  # expired / (redeemed + expired)
    bal = {(p, a): b for p, a, b in suite["liability"].itertuples(index=False)}
    # Points: 100 + 50 − 30 = 120 at end of Jan; + 200 − 20 = 300 at end of Feb.
    assert (bal[JAN, "points"], bal[FEB, "points"]) == (120, 300)
    assert (bal[JAN, "stored_principal"], bal[FEB, "stored_principal"]) == (10000, 6000)
    assert (bal[JAN, "stored_bonus"], bal[FEB, "stored_bonus"]) == (2000, 2000)


def test_coupons_tiers_and_mall() -> None:
    s = Shop()
    # Jan: 3 coupons issued, one redeemed in Feb, one redeemed after the window → 1/3.
    s.row(
        "coupon_codes",
        id=1,
        member_id=1,
        issued_local=ts("2026-01-02"),
        redeemed_local=ts("2026-02-01"),
    )
    s.row(
        "coupon_codes",
        id=2,
        member_id=2,
        issued_local=ts("2026-01-03"),
        redeemed_local=ts("2026-03-05"),
    )
    s.row("coupon_codes", id=3, member_id=3, issued_local=ts("2026-01-04"), redeemed_local=None)
    s.row(
        "coupon_codes",
        id=4,
        member_id=3,
        issued_local=ts("2026-02-04"),
        redeemed_local=ts("2026-02-05"),
    )
    for m, tier in ((1, "gold"), (2, "silver"), (3, "silver")):
        s.row("member_tiers", id=m, member_id=m, tier_code=tier)
    s.row(
        "tier_changes",
        member_id=1,
        from_code="silver",
        to_code="gold",
        changed_local=ts("2026-02-02"),
    )
    s.row(
        "tier_changes",
        member_id=2,
        from_code=None,
        to_code="silver",
        changed_local=ts("2026-01-09"),
    )
    for i, (at, points, status) in enumerate(
        (
            ("2026-01-09", 300, "collected"),
            ("2026-01-19", 200, "pending"),
            ("2026-01-20", 99, "cancelled"),
        )
    ):
        s.row(
            "mall_orders", id=i + 1, member_id=1, created_local=ts(at), points=points, status=status
        )
    suite = compute_suite(duck_of(s), 1, JAN, date(2026, 3, 1))
    assert suite["coupon_rates"].to_dict("list") == {
        "period": [JAN, FEB],
        "issued": [3, 1],
        "redeemed": [1, 1],
        "redemption_rate": [1 / 3, 1.0],
    }
    assert suite["tier_distribution"].to_dict("list") == {
        "tier": ["gold", "silver"],
        "members": [1, 2],
    }
    assert suite["tier_movements"].to_dict("list") == {
        "period": [JAN, FEB],
        "from_tier": ["", "silver"],
        "to_tier": ["silver", "gold"],
        "moves": [1, 1],
    }
    assert suite["mall_orders"].to_dict("list") == {
        "period": [JAN],
        "orders": [2],
        "members": [1],
        "points_spent": [500],
    }


def test_payment_mix() -> None:
    s = Shop()
    pay = {"points_redeemed": 0, "points_value_minor": 0, "stored_principal_minor": 0}
    s.row("order_payments", id=1, cash_minor=9000, created_local=ts("2026-01-03"), **pay)
    s.row(
        "order_payments",
        id=2,
        cash_minor=1000,
        points_redeemed=500,
        points_value_minor=500,
        stored_principal_minor=2000,
        stored_bonus_minor=400,
        created_local=ts("2026-01-20"),
    )
    s.row("order_payments", id=3, cash_minor=700, created_local=ts("2026-02-02"), **pay)
    for r in s.extra["order_payments"]:
        r.setdefault("stored_bonus_minor", 0)
    mix = compute_suite(duck_of(s), 1, JAN, date(2026, 3, 1))["payment_mix"]
    assert mix.to_dict("list") == {
        "period": [JAN, FEB],
        "orders": [2, 1],
        "cash_minor": [10000, 700],
        "points_value_minor": [500, 0],
        "stored_value_minor": [2400, 0],
        "points_redeemed": [500, 0],
    }
