"""The journal: legs in, one balanced entry out, balances moved with conditional updates.

The hot path of every points, growth and stored value change. Per entry it runs: one SELECT of
the accounts, one conditional UPDATE per account (in primary-key order, so two tills never
deadlock), one INSERT of the entry and one multi-row INSERT of the postings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import JsonDoc, UTCDateTime
from patron.core.errors import BusinessRuleViolation, InvalidInput
from patron.ledger.models import (
    ACCOUNTS,
    POSTINGS,
    Asset,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from patron.ledger.words import Words
from patron.members.models import Member

AccountKey = tuple[int | None, str]  # (member_id or None for the merchant side, code)

# Member accounts: refuse to go below zero unless this leg is free to (a credit, or a debt
# posted with explicit permission). ``allow_negative`` stays true only while such a debt lasts.
_MEMBER_UPDATE = text(
    "UPDATE ledger_accounts SET balance = balance + :d, "
    "allow_negative = ((:debt OR allow_negative) AND balance + :d < 0) "
    "WHERE id = :id AND (:free OR balance + :d >= 0) RETURNING balance"
)
# Built once: constructing statements per call costs more Python time than running them.
_SELECT_ACCOUNTS = text(
    "SELECT id, member_id, code, asset, balance FROM ledger_accounts WHERE merchant_id = :m AND ("
    "(member_id IN :mids AND code IN :mcodes) OR (member_id IS NULL AND code IN :codes))"
).bindparams(
    bindparam("mids", expanding=True, type_=BigInteger()),
    # Typed: an empty list (member-to-member entries) renders as a typed empty set.
    bindparam("mcodes", expanding=True, type_=String()),
    bindparam("codes", expanding=True, type_=String()),
)
_INSERT_ENTRY = text(
    "INSERT INTO journal_entries (merchant_id, reason_code, description, note, actor, "
    "object_type, object_id, rule_version, idempotency_key, reverses_entry_id, "
    "corrects_entry_id, occurred_at, words) VALUES (:merchant_id, :reason_code, :description, "
    ":note, :actor, :object_type, :object_id, :rule_version, :idempotency_key, "
    ":reverses_entry_id, :corrects_entry_id, :occurred_at, :words) RETURNING id"
).bindparams(bindparam("occurred_at", type_=UTCDateTime()), bindparam("words", type_=JsonDoc))
# A merchant-side account moves unconditionally (it may go negative: money issued).
MERCHANT_ACCOUNT_UPDATE = text(
    "UPDATE ledger_accounts SET balance = balance + :d WHERE id = :id RETURNING balance"
)


@dataclass(frozen=True)
class Leg:
    """One side of an entry: ``amount`` (signed, whole units) on a member's or merchant's account.

    Member accounts are named by their asset; merchant accounts by a ``code`` such as
    ``points_issued`` or ``cash_received``. ``allow_debt`` lets this one leg take a member's
    balance below zero (a refund policy that keeps the debt); nothing else can.
    """

    asset: Asset
    amount: int
    member_id: int | None = None
    code: str | None = None
    allow_debt: bool = False

    @classmethod
    def member(cls, member_id: int, asset: Asset, amount: int, *, allow_debt: bool = False) -> Leg:
        return cls(asset, amount, member_id=member_id, allow_debt=allow_debt)

    @classmethod
    def merchant(cls, code: str, asset: Asset, amount: int) -> Leg:
        return cls(asset, amount, code=code)

    @property
    def key(self) -> AccountKey:
        return (self.member_id, self.code or self.asset.value)


@dataclass(frozen=True)
class EntryInfo:
    """What every entry says about itself (reason, words for the member, who, why, link).

    ``words``: the member's words as a phrase code and figures, rendered in the reader's
    language when the statement is read (ADR 0621); ``description`` is then its English
    rendering (give ``""``). Text typed by staff (an adjustment) has a description only."""

    reason_code: str
    description: str
    actor: str
    note: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    rule_version: str | None = None
    reverses_entry_id: int | None = None
    corrects_entry_id: int | None = None
    words: Words | None = None

    @classmethod
    def worded(cls, reason_code: str, words: Words, actor: str, **more: Any) -> EntryInfo:
        """An entry whose member's words are ``words`` (description: their English)."""
        return cls(reason_code, words.english(), actor, words=words, **more)


@dataclass(frozen=True)
class PostedLeg:
    account_id: int
    member_id: int | None
    code: str
    asset: str
    amount: int
    balance_after: int


@dataclass
class PostedEntry:
    """An entry as posted (or, with ``replayed``, as first posted under the same key)."""

    id: int
    occurred_at: datetime
    postings: list[PostedLeg] = field(default_factory=list)
    replayed: bool = False

    def balance_of(self, member_id: int | None, code: str) -> int | None:
        """The balance after this entry of the account it touched, or None."""
        found = [
            p.balance_after for p in self.postings if (p.member_id, p.code) == (member_id, code)
        ]
        return found[-1] if found else None


@dataclass(frozen=True)
class ResolvedAccount:
    """A ledger account found for a leg (by :func:`resolve_accounts`), as the posting code of
    this module and of :mod:`patron.ledger.moves` handles it."""

    id: int
    member_id: int | None
    code: str
    asset: str
    balance: int = 0  # as read with the account (not locked: a guide, never a guarantee)


def check_legs(legs: list[Leg]) -> None:
    """Refuse an entry that does not balance per asset or has a meaningless leg."""
    if len(legs) < 2:
        raise InvalidInput("an entry needs at least two legs", code="entry_too_few_legs")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise InvalidInput("each leg moves a non-zero whole amount", code="invalid_leg_amount")
        if leg.member_id is None and not leg.code:
            raise InvalidInput("a merchant leg needs an account code", code="invalid_leg_account")
        if leg.member_id is not None and leg.code not in (None, leg.asset.value):
            raise InvalidInput("a member account is named by its asset", code="invalid_leg_account")
        totals[leg.asset.value] += leg.amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced:
        raise InvalidInput(
            "the legs of an entry must sum to zero for each asset",
            code="entry_unbalanced",
            details=unbalanced,
        )


def check_info(info: EntryInfo) -> None:
    if not info.reason_code.strip() or not info.description.strip():
        raise InvalidInput(
            "an entry needs a reason code and a description", code="entry_unlabelled"
        )
    if not info.actor.strip():
        raise InvalidInput("an entry needs an actor", code="entry_without_actor")


def lock_order(account: ResolvedAccount) -> tuple[bool, int]:
    """The one order every writer locks account rows in: the member's accounts first, then the
    merchant-side ones (shared by every till, so held for as short a time as possible), each by
    primary key. One order everywhere means two transactions never wait for each other in a
    circle."""
    return (account.member_id is None, account.id)


def insufficient_balance_error(leg_key: AccountKey, asset: str) -> BusinessRuleViolation:
    """The refusal (422 ``insufficient_balance``) when a member's balance would go below zero."""
    return BusinessRuleViolation(
        f"not enough {asset} on this member's account",
        code="insufficient_balance",
        details={"member_id": leg_key[0], "asset": asset},
    )


def _select_accounts(
    session: Session, merchant_id: int, keys: set[AccountKey]
) -> dict[AccountKey, ResolvedAccount]:
    params = {
        "m": merchant_id,
        "mids": sorted({m for m, _ in keys if m is not None}),
        "mcodes": sorted({c for m, c in keys if m is not None}),
        "codes": sorted({c for m, c in keys if m is None}),
    }
    rows = session.connection().execute(_SELECT_ACCOUNTS, params)
    found = {
        (r.member_id, r.code): ResolvedAccount(r.id, r.member_id, r.code, r.asset, r.balance)
        for r in rows
    }
    return {k: v for k, v in found.items() if k in keys}


def _create_accounts(session: Session, merchant_id: int, wanted: dict[AccountKey, Asset]) -> None:
    member_ids = {m for m, _ in wanted if m is not None}
    if member_ids:
        known = set(
            session.scalars(
                select(Member.id).where(
                    Member.id.in_(member_ids), Member.merchant_id == merchant_id
                )
            )
        )
        if member_ids - known:
            raise InvalidInput("no such member", code="member_not_found")
    now = utcnow(session)
    rows: list[dict[str, Any]] = [
        {
            "merchant_id": merchant_id,
            "member_id": member_id,
            "code": code,
            "asset": asset.value,
            "balance": 0,
            "allow_negative": member_id is None,
            "created_at": now,
        }
        for (member_id, code), asset in wanted.items()
    ]
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    # Two tills may open the same new account at once: the loser's row is simply skipped.
    session.connection().execute(make(ACCOUNTS).on_conflict_do_nothing(), rows)


def resolve_accounts(
    session: Session, merchant_id: int, legs: list[Leg]
) -> dict[AccountKey, ResolvedAccount]:
    """The accounts the legs name, opened on first use (a debit never opens a member account)."""
    assets = {leg.key: leg.asset for leg in legs}
    accounts = _select_accounts(session, merchant_id, set(assets))
    missing = {k: a for k, a in assets.items() if k not in accounts}
    if missing:
        for leg in legs:
            opens_in_debt = leg.member_id is not None and leg.amount < 0 and not leg.allow_debt
            if leg.key in missing and opens_in_debt:
                raise insufficient_balance_error(leg.key, leg.asset.value)
        _create_accounts(session, merchant_id, missing)
        accounts = _select_accounts(session, merchant_id, set(assets))
    for key, account in accounts.items():
        if account.asset != assets[key].value:
            raise InvalidInput(
                f"account {key[1]!r} holds {account.asset}, not {assets[key].value}",
                code="asset_mismatch",
            )
    return accounts


def _move_balances(
    session: Session, accounts: dict[AccountKey, ResolvedAccount], legs: list[Leg]
) -> dict[int, int]:
    """Apply each account's net change, member accounts first, then the merchant's, each in
    primary-key order (:func:`lock_order`); the balances after, by account id."""
    net: dict[int, int] = defaultdict(int)
    debt: dict[int, bool] = defaultdict(bool)
    by_id: dict[int, ResolvedAccount] = {}
    for leg in legs:
        account = accounts[leg.key]
        net[account.id] += leg.amount
        debt[account.id] |= leg.allow_debt
        by_id[account.id] = account
    after: dict[int, int] = {}
    conn = session.connection()
    for account_id in sorted(net, key=lambda i: lock_order(by_id[i])):
        d = net[account_id]
        account = by_id[account_id]
        if account.member_id is None:
            params: dict[str, Any] = {"id": account_id, "d": d}
            balance = conn.execute(MERCHANT_ACCOUNT_UPDATE, params).scalar_one()
        else:
            free = d >= 0 or debt[account_id]
            params = {"id": account_id, "d": d, "debt": debt[account_id], "free": free}
            balance = conn.execute(_MEMBER_UPDATE, params).scalar_one_or_none()
            if balance is None:
                raise insufficient_balance_error((account.member_id, account.code), account.asset)
        after[account_id] = balance
    return after


def posted_legs(
    accounts: dict[AccountKey, ResolvedAccount], legs: list[Leg], after: dict[int, int]
) -> list[PostedLeg]:
    """The legs as posted, each with its account's balance right after it (``after``: the
    accounts' balances after the whole entry)."""
    # Several legs on one account: each posting shows the balance right after itself.
    running = {
        aid: bal - sum(leg.amount for leg in legs if accounts[leg.key].id == aid)
        for aid, bal in after.items()
    }
    posted: list[PostedLeg] = []
    for leg in legs:
        account = accounts[leg.key]
        running[account.id] += leg.amount
        balance_after = running[account.id]
        posted.append(
            PostedLeg(
                account.id, leg.member_id, account.code, account.asset, leg.amount, balance_after
            )
        )
    return posted


def insert_entry(
    conn: Any,
    merchant_id: int,
    info: EntryInfo,
    now: datetime,
    idempotency_key: str | None = None,
) -> int:
    """INSERT the journal entry row (no postings) and return its id."""
    entry_id: int = conn.execute(
        _INSERT_ENTRY,
        {
            "merchant_id": merchant_id,
            "reason_code": info.reason_code,
            "description": info.description,
            "note": info.note,
            "actor": info.actor,
            "object_type": info.object_type,
            "object_id": info.object_id,
            "rule_version": info.rule_version,
            "idempotency_key": idempotency_key,
            "reverses_entry_id": info.reverses_entry_id,
            "corrects_entry_id": info.corrects_entry_id,
            "occurred_at": now,
            "words": info.words.to_json() if info.words else None,
        },
    ).scalar_one()
    return entry_id


def post_legs(
    session: Session,
    merchant_id: int,
    legs: list[Leg],
    info: EntryInfo,
    idempotency_key: str | None = None,
) -> PostedEntry:
    """Post a balanced entry (no idempotency, no savepoint: callers in this package add those)."""
    check_legs(legs)
    check_info(info)
    accounts = resolve_accounts(session, merchant_id, legs)
    after = _move_balances(session, accounts, legs)
    now = utcnow(session)
    conn = session.connection()
    entry_id = insert_entry(conn, merchant_id, info, now, idempotency_key)
    posted = posted_legs(accounts, legs, after)
    conn.execute(
        POSTINGS.insert(),
        [
            {
                "merchant_id": merchant_id,
                "entry_id": entry_id,
                "account_id": p.account_id,
                "asset": p.asset,
                "amount": p.amount,
                "balance_after": p.balance_after,
            }
            for p in posted
        ],
    )
    return PostedEntry(entry_id, now, posted)


def load_posted(session: Session, merchant_id: int, entry_id: int) -> PostedEntry:
    """An entry as it was posted, rebuilt from its postings (idempotent replays)."""
    occurred_at = session.scalar(
        select(JournalEntry.occurred_at).where(
            JournalEntry.id == entry_id, JournalEntry.merchant_id == merchant_id
        )
    )
    if occurred_at is None:
        raise InvalidInput("no such entry", code="entry_not_found")
    rows = session.execute(
        select(Posting, LedgerAccount.member_id, LedgerAccount.code)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    postings = [
        PostedLeg(p.account_id, member_id, code, p.asset, p.amount, p.balance_after)
        for p, member_id, code in rows
    ]
    return PostedEntry(entry_id, occurred_at, postings, replayed=True)
