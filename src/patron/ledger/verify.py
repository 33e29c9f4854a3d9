"""``patron verify``: recompute everything the ledger caches and report every disagreement.

Checks, each per merchant (or for one merchant):
- every entry's postings sum to zero per asset (and no entry is without postings);
- every account's cached balance equals the sum of its postings;
- every posting's ``balance_after`` equals the running sum of its account's postings;
- no account below zero unless it is allowed to be;
- every lot's ``remaining`` equals its amount minus its allocations, within 0..amount;
- a member's spendable points equal what is left in their available lots (zero lots while
  they owe points), and pending points equal what is left in their pending lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from patron.ledger.models import (
    Asset,
    JournalEntry,
    LedgerAccount,
    PointsAllocation,
    PointsLot,
    Posting,
)


@dataclass(frozen=True)
class Drift:
    """One disagreement between what is stored and what the postings say."""

    kind: str
    merchant_id: int
    subject: str
    expected: int | None = None
    actual: int | None = None

    def __str__(self) -> str:
        found = (
            f": expected {self.expected}, found {self.actual}" if self.expected is not None else ""
        )
        return f"{self.kind} (merchant {self.merchant_id}) {self.subject}{found}"


@dataclass(frozen=True)
class LedgerCounts:
    accounts: int
    entries: int
    lots: int


def _scoped(query: Any, column: Any, merchant_id: int | None) -> Any:
    return query if merchant_id is None else query.where(column == merchant_id)


def _entry_drifts(session: Session, merchant_id: int | None) -> list[Drift]:
    sums = _scoped(
        select(Posting.merchant_id, Posting.entry_id, Posting.asset, func.sum(Posting.amount)),
        Posting.merchant_id,
        merchant_id,
    ).group_by(Posting.merchant_id, Posting.entry_id, Posting.asset)
    drifts = [
        Drift("entry_unbalanced", m, f"entry {e} asset {a}", 0, int(total))
        for m, e, a, total in session.execute(sums.having(func.sum(Posting.amount) != 0))
    ]
    empty = _scoped(
        select(JournalEntry.merchant_id, JournalEntry.id).where(
            ~select(Posting.id).where(Posting.entry_id == JournalEntry.id).exists()
        ),
        JournalEntry.merchant_id,
        merchant_id,
    )
    drifts += [Drift("entry_without_postings", m, f"entry {e}") for m, e in session.execute(empty)]
    return drifts


def _account_label(member_id: int | None, code: str, account_id: int) -> str:
    owner = f"member {member_id}" if member_id is not None else "merchant"
    return f"account {account_id} ({owner} · {code})"


def _account_drifts(session: Session, merchant_id: int | None) -> list[Drift]:
    totals = (
        select(Posting.account_id, func.sum(Posting.amount).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    total = func.coalesce(totals.c.total, 0)
    query = _scoped(
        select(
            LedgerAccount.id,
            LedgerAccount.merchant_id,
            LedgerAccount.member_id,
            LedgerAccount.code,
            LedgerAccount.balance,
            LedgerAccount.allow_negative,
            total,
        ).outerjoin(totals, totals.c.account_id == LedgerAccount.id),
        LedgerAccount.merchant_id,
        merchant_id,
    )
    drifts: list[Drift] = []
    for aid, m, member, code, balance, allow_negative, summed in session.execute(query):
        label = _account_label(member, code, aid)
        if balance != summed:
            drifts.append(Drift("account_balance", m, label, int(summed), balance))
        if balance < 0 and not allow_negative:
            drifts.append(Drift("negative_balance", m, label, 0, balance))
    running = func.sum(Posting.amount).over(partition_by=Posting.account_id, order_by=Posting.id)
    chain = _scoped(
        select(Posting.id, Posting.merchant_id, Posting.balance_after, running.label("running")),
        Posting.merchant_id,
        merchant_id,
    ).subquery()
    broken = select(chain).where(chain.c.balance_after != chain.c.running)
    drifts += [
        Drift("posting_balance_after", m, f"posting {pid}", int(run), after)
        for pid, m, after, run in session.execute(broken)
    ]
    return drifts


def _lot_drifts(session: Session, merchant_id: int | None) -> list[Drift]:
    used = (
        select(PointsAllocation.lot_id, func.sum(PointsAllocation.amount).label("used"))
        .group_by(PointsAllocation.lot_id)
        .subquery()
    )
    query = _scoped(
        select(
            PointsLot.id,
            PointsLot.merchant_id,
            PointsLot.amount,
            PointsLot.remaining,
            PointsLot.reversed,
            func.coalesce(used.c.used, 0),
        ).outerjoin(used, used.c.lot_id == PointsLot.id),
        PointsLot.merchant_id,
        merchant_id,
    )
    drifts: list[Drift] = []
    for lot_id, m, amount, remaining, reversed_, spent in session.execute(query):
        if remaining != amount - spent:
            drifts.append(
                Drift("lot_remaining", m, f"lot {lot_id}", int(amount - spent), remaining)
            )
        if not 0 <= remaining <= amount or not 0 <= reversed_ <= amount:
            drifts.append(Drift("lot_out_of_range", m, f"lot {lot_id}", amount, remaining))
    return drifts


def _points_vs_lots(session: Session, merchant_id: int | None) -> list[Drift]:
    pending = PointsLot.released_at.is_(None)
    lots = _scoped(
        select(
            PointsLot.merchant_id,
            PointsLot.member_id,
            func.sum(case((pending, 0), else_=PointsLot.remaining)),
            func.sum(case((pending, PointsLot.remaining), else_=0)),
        ),
        PointsLot.merchant_id,
        merchant_id,
    ).group_by(PointsLot.merchant_id, PointsLot.member_id)
    in_lots = {(m, mem): (int(a), int(p)) for m, mem, a, p in session.execute(lots)}
    accounts = _scoped(
        select(
            LedgerAccount.merchant_id,
            LedgerAccount.member_id,
            LedgerAccount.asset,
            LedgerAccount.balance,
        ).where(
            LedgerAccount.member_id.is_not(None),
            LedgerAccount.asset.in_([Asset.POINTS.value, Asset.POINTS_PENDING.value]),
        ),
        LedgerAccount.merchant_id,
        merchant_id,
    )
    balances: dict[tuple[int, int], dict[str, int]] = {}
    for m, member, asset, balance in session.execute(accounts):
        balances.setdefault((m, member), {})[asset] = balance
    drifts: list[Drift] = []
    for key in set(in_lots) | set(balances):
        available, pending_left = in_lots.get(key, (0, 0))
        points = balances.get(key, {}).get(Asset.POINTS.value, 0)
        pending_points = balances.get(key, {}).get(Asset.POINTS_PENDING.value, 0)
        if max(points, 0) != available:
            drifts.append(Drift("points_vs_lots", key[0], f"member {key[1]}", available, points))
        if pending_points != pending_left:
            drifts.append(
                Drift("pending_vs_lots", key[0], f"member {key[1]}", pending_left, pending_points)
            )
    return drifts


def verify(session: Session, merchant_id: int | None = None) -> list[Drift]:
    """Every disagreement found (empty when the ledger is sound); see the module docstring."""
    return (
        _entry_drifts(session, merchant_id)
        + _account_drifts(session, merchant_id)
        + _lot_drifts(session, merchant_id)
        + _points_vs_lots(session, merchant_id)
    )


def ledger_counts(session: Session, merchant_id: int | None = None) -> LedgerCounts:
    """How much ``verify`` looked at."""

    def count(model: Any) -> int:
        query = _scoped(select(func.count()).select_from(model), model.merchant_id, merchant_id)
        return int(session.scalar(query) or 0)

    return LedgerCounts(count(LedgerAccount), count(JournalEntry), count(PointsLot))
