"""Reading the ledger: a member's balances, statement and lots; one entry; the liability."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime
from patron.core.errors import NotFound
from patron.ledger.models import Asset, JournalEntry, LedgerAccount, PointsLot, Posting
from patron.members.models import Member


@dataclass
class MemberBalances:
    """Every asset's balance; for points, what can be spent now and what is still pending."""

    member_id: int
    balances: dict[str, int]
    points_spendable: int
    points_pending: int
    points_past_expiry: int  # past their date, waiting for the expiry run: not spendable


@dataclass
class StatementLine:
    entry_id: int
    occurred_at: datetime
    reason_code: str
    description: str
    amounts: dict[str, int] = field(default_factory=dict)
    balances_after: dict[str, int] = field(default_factory=dict)
    reverses_entry_id: int | None = None
    corrects_entry_id: int | None = None
    words: dict[str, Any] | None = None  # worded when read (ADR 0621); None: show description


# Built once (checkout reads balances twice per purchase): building costs more than running.
_MEMBER_OF = select(Member.id).where(
    Member.id == bindparam("mem"), Member.merchant_id == bindparam("m")
)
_BALANCES = select(LedgerAccount.asset, LedgerAccount.balance).where(
    LedgerAccount.merchant_id == bindparam("m"), LedgerAccount.member_id == bindparam("mem")
)
_PAST_EXPIRY = select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
    PointsLot.merchant_id == bindparam("m"),
    PointsLot.member_id == bindparam("mem"),
    PointsLot.released_at.is_not(None),
    PointsLot.expires_at <= bindparam("now", type_=UTCDateTime()),
)


def check_member(session: Session, merchant_id: int, member_id: int) -> None:
    """404 unless the member belongs to this merchant (tenancy)."""
    loaded = session.identity_map.get(identity_key(Member, member_id))
    if loaded is not None and loaded.__dict__.get("merchant_id") == merchant_id:
        return  # read in this session already (checkout's quote)
    found = session.scalar(_MEMBER_OF, {"m": merchant_id, "mem": member_id})
    if found is None:
        raise NotFound("no such member", code="member_not_found")


def member_balances(session: Session, merchant_id: int, member_id: int) -> MemberBalances:
    """All balances of a member; points split into spendable, pending and past expiry."""
    check_member(session, merchant_id, member_id)
    params = {"m": merchant_id, "mem": member_id}
    rows = session.execute(_BALANCES, params).all()
    balances = {asset.value: 0 for asset in Asset}
    balances.update({r.asset: r.balance for r in rows})
    # int(): PostgreSQL's SUM of a bigint is a numeric (a Decimal in Python).
    past = int(session.scalar(_PAST_EXPIRY, {**params, "now": utcnow(session)}) or 0)
    points = balances[Asset.POINTS.value]
    return MemberBalances(
        member_id=member_id,
        balances=balances,
        points_spendable=max(0, points - past),
        points_pending=balances[Asset.POINTS_PENDING.value],
        points_past_expiry=past,
    )


def statement(
    session: Session,
    merchant_id: int,
    member_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
) -> tuple[list[StatementLine], int | None]:
    """The member's entries, newest first, with the change and the balance after per asset.
    Returns the lines and the cursor of the next (older) page, or None."""
    check_member(session, merchant_id, member_id)
    accounts = select(LedgerAccount.id).where(
        LedgerAccount.merchant_id == merchant_id, LedgerAccount.member_id == member_id
    )
    entry_ids = select(Posting.entry_id).where(Posting.account_id.in_(accounts)).distinct()
    query = select(JournalEntry).where(JournalEntry.id.in_(entry_ids))
    if before is not None:
        query = query.where(JournalEntry.id < before)
    entries = list(session.scalars(query.order_by(JournalEntry.id.desc()).limit(limit + 1)))
    more = len(entries) > limit
    entries = entries[:limit]
    lines = {
        e.id: StatementLine(
            e.id,
            e.occurred_at,
            e.reason_code,
            e.description,
            reverses_entry_id=e.reverses_entry_id,
            corrects_entry_id=e.corrects_entry_id,
            words=e.words,
        )
        for e in entries
    }
    postings = session.execute(
        select(Posting.entry_id, Posting.asset, Posting.amount, Posting.balance_after)
        .where(Posting.entry_id.in_(lines), Posting.account_id.in_(accounts))
        .order_by(Posting.id)
    ).all()
    for p in postings:
        line = lines[p.entry_id]
        line.amounts[p.asset] = line.amounts.get(p.asset, 0) + p.amount
        line.balances_after[p.asset] = p.balance_after
    return list(lines.values()), (entries[-1].id if more and entries else None)


def member_lots(
    session: Session,
    merchant_id: int,
    member_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
) -> tuple[list[PointsLot], int | None]:
    """The member's points lots, newest first (with what is left of each)."""
    check_member(session, merchant_id, member_id)
    query = select(PointsLot).where(
        PointsLot.merchant_id == merchant_id, PointsLot.member_id == member_id
    )
    if before is not None:
        query = query.where(PointsLot.id < before)
    lots = list(session.scalars(query.order_by(PointsLot.id.desc()).limit(limit + 1)))
    more = len(lots) > limit
    lots = lots[:limit]
    return lots, (lots[-1].id if more and lots else None)


@dataclass
class EntryPosting:
    account_id: int
    member_id: int | None
    code: str
    asset: str
    amount: int
    balance_after: int


def get_entry(
    session: Session, merchant_id: int, entry_id: int
) -> tuple[JournalEntry, list[EntryPosting]]:
    """One entry of this merchant with its postings (404 otherwise)."""
    entry = session.scalar(
        select(JournalEntry).where(
            JournalEntry.id == entry_id, JournalEntry.merchant_id == merchant_id
        )
    )
    if entry is None:
        raise NotFound("no such ledger entry", code="entry_not_found")
    rows = session.execute(
        select(Posting, LedgerAccount.member_id, LedgerAccount.code)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    postings = [
        EntryPosting(p.account_id, member_id, code, p.asset, p.amount, p.balance_after)
        for p, member_id, code in rows
    ]
    return entry, postings


@dataclass
class Liability:
    """What the merchant owes its members, per asset (sum of member balances)."""

    by_asset: dict[str, int]
    members_in_debt: dict[str, int]  # sum of negative member balances (owed to the merchant)

    @property
    def stored_value(self) -> int:
        return self.by_asset[Asset.STORED_PRINCIPAL.value] + self.by_asset[Asset.STORED_BONUS.value]

    @property
    def points(self) -> int:
        return self.by_asset[Asset.POINTS.value] + self.by_asset[Asset.POINTS_PENDING.value]


def liability(session: Session, merchant_id: int) -> Liability:
    """Points and stored value the merchant owes its members (positive member balances)."""
    rows = session.execute(
        select(
            LedgerAccount.asset,
            func.coalesce(
                func.sum(LedgerAccount.balance).filter(LedgerAccount.balance > 0), 0
            ).label("owed"),
            func.coalesce(
                func.sum(LedgerAccount.balance).filter(LedgerAccount.balance < 0), 0
            ).label("debt"),
        )
        .where(LedgerAccount.merchant_id == merchant_id, LedgerAccount.member_id.is_not(None))
        .group_by(LedgerAccount.asset)
    ).all()
    by_asset = {asset.value: 0 for asset in Asset}
    debt = {asset.value: 0 for asset in Asset}
    for r in rows:
        by_asset[r.asset] = int(r.owed)
        debt[r.asset] = int(r.debt)
    return Liability(by_asset, debt)
