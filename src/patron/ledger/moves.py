"""Several moves of one member's balances as ONE entry: a whole purchase, a whole refund.

A purchase spends points and stored value, earns growth and (maybe pending) points; a refund
gives back what was spent and takes back what was earned. :func:`post_moves` posts all of it as
the postings of a single entry (ADR 0373), in one savepoint, with one SELECT of every account
involved, one conditional UPDATE of the member's accounts and one of the merchant-side ones
(ADR 0374), one INSERT of the entry and one multi-row INSERT of its postings. Lots move
inside the same entry: spent points leave the earliest-expiring lots, earned points open a
lot, given-back points return to the lots they were spent from (allocation records say which)
— or, if such a lot has expired meanwhile, come back expired (an expiry posting in the same
entry) instead of coming back to life.

Lock order (the same as :func:`patron.ledger.journal.lock_order` everywhere): the member's
accounts, then the member's lots, then the merchant-side accounts (``points_redeemed``,
``growth_issued``, ``points_pending_issued``…) as late as possible, since every till of the
merchant waits for those rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, column, select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime, savepoint
from patron.core.errors import BusinessRuleViolation, InvalidInput, NotFound
from patron.core.events import emit
from patron.ledger.journal import (
    MERCHANT_ACCOUNT_UPDATE,
    EntryInfo,
    Leg,
    PostedEntry,
    ResolvedAccount,
    check_info,
    check_legs,
    insert_entry,
    insufficient_balance_error,
    lock_order,
    posted_legs,
    resolve_accounts,
)
from patron.ledger.models import ALLOCATIONS, POSTINGS, AllocationKind, Asset, PointsLot
from patron.ledger.points import (
    INSERT_LOT,
    POINTS_EXPIRED,
    POINTS_ISSUED,
    POINTS_PENDING_ISSUED,
    POINTS_REDEEMED,
    REVERSE_PENDING_LOT,
    REVERSE_RELEASED_LOT,
    Allocation,
    LedgerBusy,
    expire_member_due,
    take_for_debt,
    take_lots,
)
from patron.ledger.words import Words

# Member accounts: refuse if the balance would dip below zero at any point of the entry's legs
# taken in order (``need``: the lowest running sum), unless the account may hold a debt.
_MEMBER_UPDATE = text(
    "UPDATE ledger_accounts SET balance = balance + :d, "
    "allow_negative = ((:debt OR allow_negative) AND balance + :d < 0) "
    "WHERE id = :id AND (:free OR balance + :need >= 0) RETURNING balance"
)
_RESTORE_LOT = text("UPDATE points_lots SET remaining = remaining + :n WHERE id = :id")
# What a spend took from each lot, with the lot's expiry (to give points back to it).
_SPENT_FROM = text(
    "SELECT a.lot_id, a.amount, l.expires_at FROM points_allocations a "
    "JOIN points_lots l ON l.id = a.lot_id WHERE a.entry_id = :e AND a.kind = 'spend' "
    "ORDER BY a.id"
).columns(
    column("lot_id", BigInteger()),
    column("amount", BigInteger()),
    column("expires_at", UTCDateTime()),
)


@dataclass(frozen=True)
class Earn:
    """Points earned: a new lot, pending until ``available_at`` if that is in the future."""

    points: int
    available_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class GiveBack:
    """``points`` of what the spend entry ``spend_entry_id`` took go back to the lots it took
    them from; ``already`` points of that spend were given back before (they are skipped)."""

    spend_entry_id: int
    points: int
    already: int = 0


@dataclass(frozen=True)
class TakeBack:
    """Up to ``points`` of the earning ``earning_entry_id`` are taken back: from its own lot
    first, then from the member's other available lots. With ``allow_debt`` what the member has
    already spent becomes a negative balance; without, only what the member holds is taken
    (``Moved.taken_back`` says how much)."""

    earning_entry_id: int
    points: int
    allow_debt: bool = False


@dataclass
class Moved:
    entry: PostedEntry | None  # None: nothing was left to move (a capped take-back of 0)
    lot_id: int | None = None  # the lot of the points earned
    taken_back: int = 0
    given_back: int = 0  # of them, back in live lots
    given_back_expired: int = 0  # back to lots that had expired: expired again at once
    allocations: list[tuple[str, Allocation]] = field(default_factory=list)


def _check_points(value: int, what: str, *, zero: bool = False) -> None:
    if type(value) is not int or value < 0 or (value == 0 and not zero):
        raise InvalidInput(f"{what} must be a positive whole number", code="invalid_points")


def _plan_give_back(
    session: Session, give: GiveBack, now: datetime
) -> tuple[list[Allocation], list[Allocation]]:
    """(live, expired): where the given-back points go, walking the spend's allocations in
    order and skipping what earlier refunds gave back."""
    skip, left = give.already, give.points
    live: list[Allocation] = []
    expired: list[Allocation] = []
    for lot_id, amount, expires_at in session.connection().execute(
        _SPENT_FROM, {"e": give.spend_entry_id}
    ):
        free = amount - min(skip, amount)
        skip -= amount - free
        n = min(free, left)
        if n <= 0:
            continue
        left -= n
        (expired if expires_at is not None and expires_at <= now else live).append(
            Allocation(lot_id, n)
        )
    if left:
        raise BusinessRuleViolation(
            "cannot give back more points than the purchase spent",
            code="give_back_exceeds_spend",
            details={"entry_id": give.spend_entry_id},
        )
    return live, expired


def _earning_lot(session: Session, merchant_id: int, entry_id: int) -> PointsLot:
    lot = session.scalar(
        select(PointsLot).where(
            PointsLot.entry_id == entry_id, PointsLot.merchant_id == merchant_id
        )
    )
    if lot is None:
        raise NotFound("no points earning with this entry id", code="earning_not_found")
    return lot


def _member_updates(
    session: Session, accounts: dict[tuple[int | None, str], ResolvedAccount], legs: list[Leg]
) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Move the member accounts (locking them); return their balances after, and the
    merchant-side accounts still to move as (account id, net change), in lock order."""
    net: dict[int, int] = defaultdict(int)
    low: dict[int, int] = defaultdict(int)
    debt: dict[int, bool] = defaultdict(bool)
    by_id: dict[int, ResolvedAccount] = {}
    for leg in legs:
        account = accounts[leg.key]
        net[account.id] += leg.amount
        low[account.id] = min(low[account.id], net[account.id])
        debt[account.id] |= leg.allow_debt
        by_id[account.id] = account
    conn = session.connection()
    merchant_side: list[tuple[int, int]] = []
    rows: list[dict[str, Any]] = []
    for account_id in sorted(net, key=lambda i: lock_order(by_id[i])):
        account = by_id[account_id]
        if account.member_id is None:
            merchant_side.append((account_id, net[account_id]))
            continue
        rows.append(
            {
                "id": account_id,
                "d": net[account_id],
                "need": low[account_id],
                "debt": debt[account_id],
                "free": low[account_id] >= 0 or debt[account_id],
            }
        )
    after = _update_accounts(conn, rows, member=True)
    for row in rows:
        if row["id"] not in after:  # the condition refused it: nothing of the entry stays
            account = by_id[row["id"]]
            raise insufficient_balance_error((account.member_id, account.code), account.asset)
    return after, merchant_side


_MANY_UPDATES: dict[tuple[str, bool, int], Any] = {}


def _many_update(dialect: str, member: bool, n: int) -> Any:
    """One UPDATE of ``n`` accounts (``UPDATE … FROM (VALUES …)``), built once per shape.

    On PostgreSQL the rows are first locked in primary-key order (a ``FOR UPDATE`` CTE the
    UPDATE must join), so two writers never lock the same rows in a different order, whatever
    plan the join gets. A member row is only changed if it may go where it goes (``free`` or
    ``balance + need >= 0``, checked on the locked, current row as the one-row UPDATE does);
    the rows it returns say which were."""
    key = (dialect, member, n)
    if key not in _MANY_UPDATES:
        cols = ("id", "d", "need", "debt", "free") if member else ("id", "d")
        kinds = {"id": "BIGINT", "d": "BIGINT", "need": "BIGINT", "debt": "BOOLEAN"}
        kinds["free"] = "BOOLEAN"
        values = ", ".join(
            "(" + ", ".join(f"CAST(:{c}{i} AS {kinds[c]})" for c in cols) + ")" for i in range(n)
        )
        ids = ", ".join(f":id{i}" for i in range(n))
        names = ", ".join(("acc", *cols[1:]))
        sql = f"WITH v({names}) AS (VALUES {values})"
        lock = ""
        if dialect == "postgresql":
            sql += (
                ", locked AS MATERIALIZED (SELECT id FROM ledger_accounts "
                f"WHERE id IN ({ids}) ORDER BY id FOR UPDATE)"
            )
            lock = " AND a.id IN (SELECT id FROM locked)"
        sql += " UPDATE ledger_accounts AS a SET balance = a.balance + v.d"
        if member:
            sql += ", allow_negative = ((v.debt OR a.allow_negative) AND a.balance + v.d < 0)"
        sql += f" FROM v WHERE a.id = v.acc{lock}"
        if member:
            sql += " AND (v.free OR a.balance + v.need >= 0)"
        sql += " RETURNING id, balance"
        _MANY_UPDATES[key] = text(sql)
    return _MANY_UPDATES[key]


def _update_accounts(conn: Any, rows: list[dict[str, Any]], *, member: bool) -> dict[int, int]:
    """Move these accounts (rows in lock order): one statement for all of them; returns the
    balances after of the rows that moved (a member row refused by its condition is missing)."""
    if not rows:
        return {}
    if len(rows) == 1:
        row = rows[0]
        if member:
            balance = conn.execute(_MEMBER_UPDATE, row).scalar_one_or_none()
        else:
            balance = conn.execute(
                MERCHANT_ACCOUNT_UPDATE, {"id": row["id"], "d": row["d"]}
            ).scalar_one()
        return {} if balance is None else {row["id"]: balance}
    params = {f"{c}{i}": v for i, row in enumerate(rows) for c, v in row.items()}
    statement = _many_update(conn.dialect.name, member, len(rows))
    return {int(i): int(b) for i, b in conn.execute(statement, params)}


def post_moves(
    session: Session,
    merchant_id: int,
    member_id: int,
    info: EntryInfo,
    *,
    legs: list[Leg] | None = None,
    spend: int = 0,
    earn: Earn | None = None,
    give_back: GiveBack | None = None,
    take_back: TakeBack | None = None,
    describe: Callable[[int, int, int], Words] | None = None,
) -> Moved:
    """Post everything one purchase or one refund moves for ``member_id`` as one entry.

    ``legs``: other balanced legs (stored value, growth; never member points). ``spend``: points
    paid, from the available lots, earliest expiring first. ``earn``: points earned, as a new lot.
    ``give_back`` / ``take_back``: a refund's points. Within the entry the member's points move
    in this order: given back, taken back, spent, earned — the balance may not dip below zero
    at any step (``insufficient_balance``) unless a take-back allows a debt. A refusal leaves the
    session as it was (a savepoint; inside ``all_or_nothing`` the transaction rolls back).
    Emits ``points.spent`` / ``points.earned`` as the single operations do.
    ``describe(given_back, of_them_expired, taken_back)``, if given, writes the entry's
    description once those are known (a capped take-back is only known here)."""
    other = list(legs or [])
    for leg in other:
        if leg.member_id is not None and leg.asset in (Asset.POINTS, Asset.POINTS_PENDING):
            raise InvalidInput(
                "member points move through spend / earn / give_back / take_back",
                code="points_need_lots",
            )
    _check_points(spend, "points spent", zero=True)
    if earn is not None:
        _check_points(earn.points, "points earned")
    with savepoint(session):
        return _post_moves(
            session,
            merchant_id,
            member_id,
            info,
            other,
            spend,
            earn,
            give_back,
            take_back,
            describe,
        )


def _post_moves(
    session: Session,
    merchant_id: int,
    member_id: int,
    info: EntryInfo,
    other: list[Leg],
    spend: int,
    earn: Earn | None,
    give_back: GiveBack | None,
    take_back: TakeBack | None,
    describe: Callable[[int, int, int], Words] | None,
) -> Moved:
    now = utcnow(session)
    pending = False
    if earn is not None:
        if earn.expires_at is not None and earn.expires_at <= max(now, earn.available_at or now):
            raise InvalidInput(
                "points must expire after they become available", code="invalid_expiry"
            )
        pending = earn.available_at is not None and earn.available_at > now
    if spend or give_back or take_back:
        expire_member_due(session, merchant_id, member_id, now)

    # --- the legs, in the order the member's points move -------------------------------------
    points_legs: list[Leg] = []
    live: list[Allocation] = []
    expired: list[Allocation] = []
    if give_back is not None and give_back.points:
        live, expired = _plan_give_back(session, give_back, now)
        points_legs += [
            Leg.member(member_id, Asset.POINTS, give_back.points),
            Leg.merchant(POINTS_REDEEMED, Asset.POINTS, -give_back.points),
        ]
        gone = sum(a.amount for a in expired)
        if gone:
            points_legs += [
                Leg.member(member_id, Asset.POINTS, -gone),
                Leg.merchant(POINTS_EXPIRED, Asset.POINTS, gone),
            ]
    lot: PointsLot | None = None
    take = from_lot = from_available = 0
    if take_back is not None and take_back.points:
        lot = _earning_lot(session, merchant_id, take_back.earning_entry_id)
        session.refresh(lot)
        if lot.member_id != member_id:
            raise InvalidInput("that earning is another member's", code="earning_not_found")
        take = take_back.points
        if take > lot.amount - lot.reversed:
            raise BusinessRuleViolation(
                "cannot take back more points than were earned", code="reversal_exceeds_earning"
            )
        lot_pending = lot.released_at is None
        if not take_back.allow_debt:  # the "cap": never more than the member then holds
            held = _points_held(session, merchant_id, member_id)
            held += sum(a.amount for a in live)
            take = min(take, (lot.remaining if lot_pending else 0) + max(held, 0))
        from_lot = min(take, lot.remaining)
        from_available = take - from_lot if lot_pending else take
        if lot_pending and from_lot:
            points_legs += [
                Leg.member(member_id, Asset.POINTS_PENDING, -from_lot),
                Leg.merchant(POINTS_PENDING_ISSUED, Asset.POINTS_PENDING, from_lot),
            ]
        if from_available:
            points_legs += [
                Leg.member(
                    member_id, Asset.POINTS, -from_available, allow_debt=take_back.allow_debt
                ),
                Leg.merchant(POINTS_ISSUED, Asset.POINTS, from_available),
            ]
    if spend:
        points_legs += [
            Leg.member(member_id, Asset.POINTS, -spend),
            Leg.merchant(POINTS_REDEEMED, Asset.POINTS, spend),
        ]
    if earn is not None:
        asset = Asset.POINTS_PENDING if pending else Asset.POINTS
        counter = POINTS_PENDING_ISSUED if pending else POINTS_ISSUED
        points_legs += [
            Leg.member(member_id, asset, earn.points),
            Leg.merchant(counter, asset, -earn.points),
        ]
    all_legs = points_legs + other
    gone = sum(a.amount for a in expired)
    given = give_back.points if give_back else 0
    if not all_legs:
        return Moved(None, taken_back=take, given_back=given, given_back_expired=gone)
    if describe is not None:
        said = describe(given, gone, take)
        info = replace(info, description=said.english(), words=said)
    check_legs(all_legs)
    check_info(info)

    # --- member accounts, then lots ----------------------------------------------------------
    accounts = resolve_accounts(session, merchant_id, all_legs)
    after, merchant_side = _member_updates(session, accounts, all_legs)
    points_key = (member_id, Asset.POINTS.value)
    points_after = after.get(accounts[points_key].id, 0) if points_key in accounts else 0
    points_net = sum(
        leg.amount for leg in all_legs if leg.key == points_key and leg.member_id is not None
    )
    balance = points_after - points_net  # the member's points before this entry
    conn = session.connection()
    allocs: list[tuple[str, Allocation]] = []

    if live:
        conn.execute(_RESTORE_LOT, [{"id": a.lot_id, "n": a.amount} for a in live])
        allocs += [(AllocationKind.RESTORE.value, Allocation(a.lot_id, -a.amount)) for a in live]
        allocs += _repay(conn, balance, live)
    for a in expired:  # back, and expired again at once: the lot itself does not change
        allocs += [
            (AllocationKind.RESTORE.value, Allocation(a.lot_id, -a.amount)),
            (AllocationKind.EXPIRE.value, Allocation(a.lot_id, a.amount)),
        ]
    balance += sum(a.amount for a in live)

    if lot is not None and take:
        guard = REVERSE_PENDING_LOT if lot.released_at is None else REVERSE_RELEASED_LOT
        changed = conn.execute(guard, {"id": lot.id, "n": take, "from_lot": from_lot})
        if changed.rowcount != 1:
            raise LedgerBusy("the earning changed while taking it back; try again")
        if from_lot:
            allocs.append((AllocationKind.REVERSE.value, Allocation(lot.id, from_lot)))
        if from_available:
            released = lot.released_at is not None
            need = from_available - from_lot if released else from_available
            got = take_lots(session, merchant_id, member_id, need, now, lot.id) if need else []
            allocs += [(AllocationKind.REVERSE.value, a) for a in got]
            later = balance - from_available
            debt_created = max(0, -later) - max(0, -balance)
            if need - sum(a.amount for a in got) != debt_created:
                raise LedgerBusy("points changed while taking them back; try again")
            balance = later

    if spend:
        got = take_lots(session, merchant_id, member_id, spend, now)
        if sum(a.amount for a in got) != spend:  # lots disagree with the balance: never guess
            raise LedgerBusy("points changed while spending; try again")
        allocs += [(AllocationKind.SPEND.value, a) for a in got]
        balance -= spend

    # --- the entry, the new lot, the allocations ---------------------------------------------
    entry_id = insert_entry(conn, merchant_id, info, now)
    lot_id = None
    if earn is not None:
        lot_id = conn.execute(
            INSERT_LOT,
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "entry_id": entry_id,
                "amount": earn.points,
                "remaining": earn.points,
                "reversed": 0,
                "earned_at": now,
                "available_at": earn.available_at if pending else now,
                "released_at": None if pending else now,
                "expires_at": earn.expires_at,
            },
        ).scalar_one()
        if not pending:
            allocs += _repay(conn, balance, [Allocation(lot_id, earn.points)])
    if allocs:
        conn.execute(
            ALLOCATIONS.insert(),
            [
                {
                    "merchant_id": merchant_id,
                    "entry_id": entry_id,
                    "lot_id": a.lot_id,
                    "kind": kind,
                    "amount": a.amount,
                }
                for kind, a in allocs
            ],
        )

    # --- the merchant's side, last ----------------------------------------------------------
    moved = _update_accounts(conn, [{"id": i, "d": d} for i, d in merchant_side], member=False)
    if len(moved) != len(merchant_side):  # an account row vanished: never post half an entry
        raise LedgerBusy("an account changed while posting; try again")
    after.update(moved)
    entry_legs = posted_legs(accounts, all_legs, after)
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
            for p in entry_legs
        ],
    )
    posted = PostedEntry(entry_id, now, entry_legs)
    _emit(session, merchant_id, member_id, info, posted, spend, earn, lot_id, pending, now)
    return Moved(
        posted,
        lot_id,
        taken_back=take,
        given_back=given,
        given_back_expired=gone,
        allocations=allocs,
    )


def _points_held(session: Session, merchant_id: int, member_id: int) -> int:
    found = session.connection().execute(
        text(
            "SELECT balance FROM ledger_accounts WHERE merchant_id = :m AND member_id = :mem "
            "AND code = 'points'"
        ),
        {"m": merchant_id, "mem": member_id},
    )
    value = found.scalar_one_or_none()
    return int(value or 0)


def _repay(
    conn: Any, balance_before: int, gained: list[Allocation]
) -> list[tuple[str, Allocation]]:
    """Points arriving while the member owes points pay the debt first (see ``repay_debt``)."""
    return [(AllocationKind.DEBT.value, a) for a in take_for_debt(conn, balance_before, gained)]


def _emit(
    session: Session,
    merchant_id: int,
    member_id: int,
    info: EntryInfo,
    posted: PostedEntry,
    spend: int,
    earn: Earn | None,
    lot_id: int | None,
    pending: bool,
    now: datetime,
) -> None:
    if spend:
        emit(
            session,
            merchant_id,
            "points.spent",
            {
                "member_id": member_id,
                "entry_id": posted.id,
                "points": spend,
                "balance": posted.balance_of(member_id, Asset.POINTS.value),
                "reason_code": info.reason_code,
            },
            subject_id=member_id,
        )
    if earn is not None:
        available = earn.available_at if pending and earn.available_at else now
        emit(
            session,
            merchant_id,
            "points.earned",
            {
                "member_id": member_id,
                "entry_id": posted.id,
                "lot_id": lot_id,
                "points": earn.points,
                "pending": pending,
                "available_at": available.isoformat(),
                "expires_at": earn.expires_at.isoformat() if earn.expires_at else None,
                "reason_code": info.reason_code,
            },
            subject_id=member_id,
        )


__all__ = ["Earn", "GiveBack", "Moved", "TakeBack", "post_moves"]
