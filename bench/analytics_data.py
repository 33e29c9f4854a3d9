"""A seeded synthetic shop in the analytics copy's shape (tests and the analytics benchmark).

Customers differ: each has a gamma-distributed purchase propensity, an acquisition day and a
home channel; about 5% of orders are anonymous, 3% fully refunded, 4% partly refunded,
1% cancelled. Program tables (ledger accounts/entries/postings, coupon codes, tiers, mall,
order payments, portal visits, message opens and clicks) are small, in the shape the sync copies
them, so the equivalence test covers every metric.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

MERCHANT = 1
START = np.datetime64("2024-01-01T00:00:00", "us")
DAYS = 730
DAY_US = 86_400_000_000
STAGES = np.array(["user", "customer", "member", "fan"])


def generate(orders: int, seed: int = 7, customers: int | None = None) -> dict[str, pd.DataFrame]:
    """Tables for ``orders`` order rows and about ``orders / 10`` customers (or ``customers``)."""
    rng = np.random.default_rng(seed)
    n_c = customers or max(20, orders // 10)
    ids = np.arange(1, n_c + 1, dtype=np.int64)
    acquired = rng.integers(0, DAYS, n_c)
    weight = rng.gamma(0.6, 1.0, n_c)
    who = rng.choice(n_c, size=orders, p=weight / weight.sum())
    # An order falls between the customer's acquisition and the end of the data.
    span = (DAYS - acquired[who]).astype(np.float64)
    day = acquired[who] + np.floor(rng.random(orders) ** 2 * span).astype(np.int64)
    at = START + day * DAY_US + rng.integers(8 * 3600, 22 * 3600, orders) * 1_000_000
    total = np.round(rng.lognormal(8.5, 0.7, orders)).astype(np.int64) + 100
    fate = rng.random(orders)
    status = np.where(
        fate < 0.03, "refunded", np.where(fate < 0.07, "partially_refunded", "completed")
    )
    status = np.where(fate > 0.99, "cancelled", status)
    refunded = np.where(
        status == "refunded", total, np.where(status == "partially_refunded", total // 3, 0)
    )
    member_id = pd.array(ids[who], dtype="Int64")
    member_id[rng.random(orders) < 0.05] = pd.NA
    order_frame = pd.DataFrame(
        {
            "id": np.arange(1, orders + 1, dtype=np.int64),
            "merchant_id": np.full(orders, MERCHANT, dtype=np.int64),
            "member_id": member_id,
            "store_id": pd.array(
                rng.choice([10, 11, 12], orders, p=[0.5, 0.3, 0.2]), dtype="Int64"
            ),
            "channel": np.where(rng.random(orders) < 0.3, "online", "store"),
            "status": status,
            "placed_at": at,
            "placed_local": at,
            "total_minor": total,
            "refunded_minor": refunded,
        }
    )
    frames = {"orders": order_frame, **_members(rng, ids, acquired)}
    frames.update(_programs(rng, ids))
    return frames


def _members(
    rng: np.random.Generator, ids: np.ndarray, acquired: np.ndarray
) -> dict[str, pd.DataFrame]:
    n_c = len(ids)
    created = START + (acquired - rng.integers(0, 30, n_c)).clip(0) * DAY_US
    registered = pd.Series(created + rng.integers(0, 60, n_c) * DAY_US)
    registered[rng.random(n_c) < 0.4] = pd.NaT
    stage_n = rng.integers(0, 4, n_c)
    members = pd.DataFrame(
        {
            "id": ids,
            "merchant_id": np.full(n_c, MERCHANT, dtype=np.int64),
            "funnel_stage": STAGES[stage_n],
            "created_at": created,
            "created_local": created,
            "registered_at": registered.to_numpy(),
            "registered_local": registered.to_numpy(),
            "orders_count": np.zeros(n_c, dtype=np.int64),
            "updated_at": created,
        }
    )
    # Members with history climb one stage at a time, a few days apart.
    rows_member, rows_from, rows_to, rows_at = [], [], [], []
    step_at = created.copy()
    for s in range(1, 4):
        climbing = (stage_n >= s) & (rng.random(n_c) < 0.7)
        step_at = step_at + rng.integers(1, 40, n_c) * DAY_US
        rows_member.append(ids[climbing])
        rows_from.append(np.full(climbing.sum(), STAGES[s - 1]))
        rows_to.append(np.full(climbing.sum(), STAGES[s]))
        rows_at.append(step_at[climbing])
    moved = np.concatenate(rows_at)
    moves = pd.DataFrame(
        {
            "merchant_id": MERCHANT,
            "member_id": np.concatenate(rows_member),
            "from_stage": np.concatenate(rows_from),
            "to_stage": np.concatenate(rows_to),
            "moved_at": moved,
            "moved_local": moved,
        }
    )
    moves.insert(0, "id", np.arange(1, len(moves) + 1, dtype=np.int64))
    return {"members": members, "funnel_transitions": moves}


def _programs(rng: np.random.Generator, ids: np.ndarray) -> dict[str, pd.DataFrame]:
    n = max(50, len(ids) // 4)
    who = rng.choice(ids, n)
    at = START + rng.integers(0, DAYS * 24, n) * 3_600_000_000
    earn = rng.integers(10, 500, n)
    frames = _ledger(rng, ids, who, at, earn)
    issued = START + rng.integers(0, DAYS, n) * DAY_US
    used = rng.random(n) < 0.4
    frames["coupon_codes"] = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "merchant_id": MERCHANT,
            "template_id": rng.integers(1, 4, n),
            "member_id": who,
            "status": np.where(used, "redeemed", "issued"),
            "issued_at": issued,
            "issued_local": issued,
            "redeemed_local": pd.Series(issued + rng.integers(0, 90, n) * DAY_US).where(used),
        }
    )
    tiers = np.array(["bronze", "silver", "gold"])
    frames["member_tiers"] = pd.DataFrame(
        {
            "id": ids,
            "merchant_id": MERCHANT,
            "member_id": ids,
            "tier_code": tiers[rng.integers(0, 3, len(ids))],
        }
    )
    from_code = pd.Series(tiers[rng.integers(0, 2, n)]).where(rng.random(n) < 0.8)
    frames["tier_changes"] = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "merchant_id": MERCHANT,
            "member_id": who,
            "from_code": from_code,
            "to_code": tiers[rng.integers(1, 3, n)],
            "changed_local": at,
        }
    )
    frames["mall_orders"] = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "merchant_id": MERCHANT,
            "member_id": who,
            "points": earn,
            "status": np.where(rng.random(n) < 0.1, "cancelled", "collected"),
            "created_local": at,
        }
    )
    cash = rng.integers(0, 20_000, n)
    points = rng.integers(0, 500, n) * np.int64(rng.random(n) < 0.3)
    stored = rng.integers(0, 5_000, n) * np.int64(rng.random(n) < 0.2)
    frames["order_payments"] = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "merchant_id": MERCHANT,
            "order_id": np.arange(1, n + 1),
            "member_id": who,
            "total_minor": cash + points + stored,
            "cash_minor": cash,
            "points_redeemed": points * 10,
            "points_value_minor": points,
            "stored_principal_minor": stored - stored // 5,
            "stored_bonus_minor": stored // 5,
            "created_local": at,
        }
    )
    frames["portal_visits"] = pd.DataFrame(
        {
            "merchant_id": MERCHANT,
            "member_id": rng.choice(ids, 2 * n),
            "visited_local": START + rng.integers(0, DAYS * 24, 2 * n) * 3_600_000_000,
        }
    )
    opened = START + rng.integers(0, DAYS * 24, n) * 3_600_000_000
    frames["message_activity"] = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "merchant_id": MERCHANT,
            "member_id": rng.choice(ids, n),
            "type": np.where(rng.random(n) < 0.7, "opened", "clicked"),
            "occurred_at": opened,
            "occurred_local": opened,
        }
    )
    # A third of the customers joined online (scan to join), each once, at their store.
    joiners = rng.choice(ids, len(ids) // 3, replace=False)
    joined = START + rng.integers(0, DAYS * 24, len(joiners)) * 3_600_000_000
    frames["member_joins"] = pd.DataFrame(
        {
            "id": np.arange(1, len(joiners) + 1, dtype=np.int64),
            "merchant_id": MERCHANT,
            "member_id": joiners,
            "store_id": rng.choice([10, 11, 12], len(joiners)),
            "joined_at": joined,
            "joined_local": joined,
        }
    )
    return frames


def _ledger(
    rng: np.random.Generator, ids: np.ndarray, who: np.ndarray, at: np.ndarray, earn: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Two-leg entries (earn, redeem, expire, top-up) in the ledger's real three tables."""
    n = len(who)
    kind = rng.choice(["earn", "redeem", "expire", "topup"], n, p=[0.55, 0.25, 0.1, 0.1])
    amount = np.where(kind == "earn", earn, -np.minimum(earn, 200))
    account = np.select(
        [kind == "earn", kind == "redeem", kind == "expire"],
        ["points_issued", "points_redeemed", "points_expired"],
        "cash_received",
    )
    asset = np.where(kind == "topup", "stored_principal", "points")
    amount = np.where(kind == "topup", earn * 10, amount)
    # Accounts: one per (member, asset) and one per merchant code.
    member_keys = pd.DataFrame({"member_id": who, "code": asset}).drop_duplicates()
    merchant_keys = pd.DataFrame({"code": np.unique(account)})
    accounts = pd.concat(
        [member_keys, merchant_keys.assign(member_id=pd.NA)], ignore_index=True
    ).astype({"member_id": "Int64"})
    accounts.insert(0, "id", np.arange(1, len(accounts) + 1, dtype=np.int64))
    accounts.insert(1, "merchant_id", MERCHANT)
    code_asset = {"cash_received": "stored_principal", "stored_principal": "stored_principal"}
    accounts["asset"] = [code_asset.get(c, "points") for c in accounts["code"]]
    by_member = {
        (int(m), c): i for i, m, c in accounts[["id", "member_id", "code"]].dropna().values
    }
    by_code = {c: i for i, c in accounts.loc[accounts.member_id.isna(), ["id", "code"]].values}
    entry = np.arange(1, n + 1, dtype=np.int64)
    member_acc = np.array([by_member[int(m), c] for m, c in zip(who, asset, strict=True)])
    merchant_acc = np.array([by_code[c] for c in account])
    postings = pd.DataFrame(
        {
            "entry_id": np.concatenate([entry, entry]),
            "account_id": np.concatenate([member_acc, merchant_acc]).astype(np.int64),
            "asset": np.concatenate([asset, asset]),
            "amount": np.concatenate([amount, -amount]),
        }
    )
    postings.insert(0, "id", np.arange(1, 2 * n + 1, dtype=np.int64))
    postings.insert(1, "merchant_id", MERCHANT)
    entries = pd.DataFrame(
        {
            "id": entry,
            "merchant_id": MERCHANT,
            "reason_code": kind,
            "occurred_at": at,
            "occurred_local": at,
        }
    )
    return {"ledger_accounts": accounts, "journal_entries": entries, "ledger_postings": postings}


def window() -> tuple[datetime, datetime]:
    return datetime(2024, 1, 1), datetime(2026, 1, 1)
