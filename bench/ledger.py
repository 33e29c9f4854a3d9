"""Ledger postings per second: earn + spend pairs through ``patron.ledger.service`` against the
raw database driver executing the same statements, in the same run.

    python -m bench.ledger [--size PAIRS_PER_CLIENT] [--clients 1,8] [--backends sqlite,postgresql]

Each pair is two entries, each in its own transaction with an idempotency key, as a till would
send them: earn 10 points (opens a lot) then spend 5 (allocates from lots). Every client has its
own member; all clients share the merchant's accounts (points_issued, points_redeemed), as they
would in a real shop. Clients are threads with their own connection.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.ledger import service as ledger
from patron.members.models import Member
from patron.tenancy import service as tenancy

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
INFO = ledger.EntryInfo("purchase", "Points for a purchase", "bench")


def setup(url: str, clients: int) -> tuple[sessionmaker[Session], int, list[int]]:
    engine = make_engine(url, **({} if url.startswith("sqlite") else {"pool_size": 20}))
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        merchant = tenancy.create_merchant(
            s, "Bench", f"bench-{uuid.uuid4().hex[:8]}", "CNY", "Asia/Shanghai", "en"
        )
        now = utcnow(s)
        members = [
            Member(merchant_id=merchant.id, created_at=now, updated_at=now) for _ in range(clients)
        ]
        s.add_all(members)
        s.flush()
        merchant_id, member_ids = merchant.id, [m.id for m in members]
    with transaction(sessions) as s:  # open the merchant's accounts once, as in a live shop
        ledger.earn_points(s, merchant_id, member_ids[0], 1, INFO)
        ledger.spend_points(s, merchant_id, member_ids[0], 1, INFO)
    return sessions, merchant_id, member_ids


def ours(sessions: sessionmaker[Session], merchant_id: int) -> Callable[[int, str], None]:
    def pair(member_id: int, tag: str) -> None:
        with transaction(sessions) as s:
            ledger.earn_points(s, merchant_id, member_id, 10, INFO, idempotency_key=f"e{tag}")
        with transaction(sessions) as s:
            ledger.spend_points(s, merchant_id, member_id, 5, INFO, idempotency_key=f"s{tag}")

    return pair


class Raw:
    """The statements the service runs for an earn and a spend, sent straight to the driver."""

    def __init__(self, url: str, merchant_id: int) -> None:
        self.url = url
        self.pg = url.startswith("postgresql")
        self.merchant_id = merchant_id

    def connect(self) -> Any:
        if self.pg:
            # autocommit: the explicit BEGIN/COMMIT below are the only ones sent, as for ours
            return psycopg.connect(
                self.url.replace("postgresql+psycopg", "postgresql"), autocommit=True
            )
        conn = sqlite3.connect(
            self.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def q(self, conn: Any, sql: str, params: Any = None) -> Any:
        if self.pg:
            sql = re.sub(r":(\w+)", r"%(\1)s", sql)
        return conn.execute(sql, params or {})

    def now(self) -> Any:
        now = datetime.now(UTC)
        return now if self.pg else now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _begin(self, conn: Any, key: str, now: Any) -> int:
        self.q(conn, "BEGIN" if self.pg else "BEGIN IMMEDIATE")
        self.q(conn, "SAVEPOINT sp")
        return int(
            self.q(
                conn,
                "INSERT INTO idempotency_keys (merchant_id, key, fingerprint, created_at) "
                "VALUES (:m, :k, :f, :t) RETURNING id",
                {"m": self.merchant_id, "k": key, "f": "x" * 64, "t": now},
            ).fetchone()[0]
        )

    def _post(self, conn: Any, member_id: int, codes: tuple[str, str], d: int, now: Any) -> int:
        accounts = self.q(
            conn,
            "SELECT id, member_id, code, asset FROM ledger_accounts WHERE merchant_id = :m AND "
            "((member_id = :mem AND code = 'points') OR (member_id IS NULL AND code = :c))",
            {"m": self.merchant_id, "mem": member_id, "c": codes[1]},
        ).fetchall()
        legs = {row[0]: (d if row[1] is not None else -d) for row in accounts}
        after = {}
        for account_id in sorted(legs):
            after[account_id] = self.q(
                conn,
                "UPDATE ledger_accounts SET balance = balance + :d, allow_negative = "
                "((:debt OR allow_negative) AND balance + :d < 0) WHERE id = :id AND "
                "(:free OR balance + :d >= 0) RETURNING balance",
                {"id": account_id, "d": legs[account_id], "debt": False, "free": True},
            ).fetchone()[0]
        entry_id = int(
            self.q(
                conn,
                "INSERT INTO journal_entries (merchant_id, reason_code, description, actor, "
                "idempotency_key, occurred_at) VALUES (:m, 'purchase', 'Points', 'bench', "
                ":k, :t) RETURNING id",
                {"m": self.merchant_id, "k": codes[0], "t": now},
            ).fetchone()[0]
        )
        rows = [
            {"m": self.merchant_id, "e": entry_id, "a": a, "x": legs[a], "b": after[a]}
            for a in legs
        ]
        self.q(
            conn,
            "INSERT INTO ledger_postings (merchant_id, entry_id, account_id, asset, amount, "
            "balance_after) VALUES (:m, :e, :a, 'points', :x, :b), (:m2, :e2, :a2, 'points', "
            ":x2, :b2)",
            {**rows[0], **{k + "2": v for k, v in rows[1].items()}},
        )
        return entry_id

    def _end(self, conn: Any, key_id: int, member_id: int, now: Any) -> None:
        self.q(
            conn,
            "INSERT INTO outbox_events (merchant_id, type, subject_id, payload, occurred_at) "
            "VALUES (:m, 'points.earned', :s, :p, :t)",
            {"m": self.merchant_id, "s": member_id, "p": json.dumps({"points": 10}), "t": now},
        )
        self.q(
            conn,
            "UPDATE idempotency_keys SET result = :r WHERE id = :id",
            {"r": json.dumps({"entry_id": 1}), "id": key_id},
        )
        self.q(conn, "RELEASE SAVEPOINT sp")
        self.q(conn, "COMMIT")

    def pair(self, conn: Any, member_id: int, tag: str) -> None:
        now = self.now()
        key_id = self._begin(conn, f"e{tag}", now)
        entry_id = self._post(conn, member_id, (f"e{tag}", "points_issued"), 10, now)
        self.q(
            conn,
            "INSERT INTO points_lots (merchant_id, member_id, entry_id, amount, remaining, "
            "reversed, earned_at, available_at, released_at) VALUES (:m, :mem, :e, 10, 10, 0, "
            ":t, :t, :t) RETURNING id",
            {"m": self.merchant_id, "mem": member_id, "e": entry_id, "t": now},
        ).fetchone()
        self._end(conn, key_id, member_id, now)
        key_id = self._begin(conn, f"s{tag}", now)
        self.q(
            conn,
            "SELECT id, merchant_id, member_id, remaining, earned_at FROM points_lots WHERE "
            "released_at IS NOT NULL AND remaining > 0 AND expires_at <= :t AND merchant_id = :m "
            "AND member_id = :mem ORDER BY expires_at, id LIMIT 10000",
            {"t": now, "m": self.merchant_id, "mem": member_id},
        ).fetchall()
        entry_id = self._post(conn, member_id, (f"s{tag}", "points_redeemed"), -5, now)
        lots = self.q(
            conn,
            "SELECT id, remaining FROM points_lots WHERE merchant_id = :m AND member_id = :mem "
            "AND released_at IS NOT NULL AND remaining > 0 AND (expires_at IS NULL OR "
            "expires_at > :t) ORDER BY expires_at IS NULL, expires_at, earned_at, id",
            {"m": self.merchant_id, "mem": member_id, "t": now},
        ).fetchall()
        self.q(
            conn,
            "UPDATE points_lots SET remaining = remaining - 5 WHERE id = :id",
            {"id": lots[0][0]},
        )
        self.q(
            conn,
            "INSERT INTO points_allocations (merchant_id, entry_id, lot_id, kind, amount) "
            "VALUES (:m, :e, :l, 'spend', 5)",
            {"m": self.merchant_id, "e": entry_id, "l": lots[0][0]},
        )
        self._end(conn, key_id, member_id, now)


def run_clients(clients: int, pairs: int, work: Callable[[int, int], None]) -> float:
    """Seconds for ``clients`` threads each doing ``pairs`` earn+spend pairs."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        barrier.wait()
        try:
            for n in range(pairs):
                work(i, n)
        except BaseException as exc:  # reported below: a failed run is no figure
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def measure(url: str, clients: int, pairs: int, run: str, rounds: int = 4) -> tuple[float, float]:
    """Ours and raw, alternating in ``rounds`` so that a change of machine load (the benchmark
    machine is shared) falls on both sides alike; rates from the summed times."""
    sessions, merchant_id, members = setup(url, clients)
    pair = ours(sessions, merchant_id)
    raw = Raw(url, merchant_id)
    conns = [raw.connect() for _ in range(clients)]
    ours_time = raw_time = 0.0
    chunk = max(1, pairs // rounds)
    for r in range(rounds):
        ours_time += run_clients(
            clients, chunk, lambda i, n, r=r: pair(members[i], f"{run}o{r}-{i}-{n}")
        )
        raw_time += run_clients(
            clients, chunk, lambda i, n, r=r: raw.pair(conns[i], members[i], f"{run}r{r}-{i}-{n}")
        )
    for conn in conns:
        conn.close()
    sessions.kw["bind"].dispose()
    entries = clients * chunk * rounds * 2
    return entries / ours_time, entries / raw_time


def database(backend: str, tmp: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench-ledger.db'}", lambda: None
    name = f"patron_bench_ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=25, help="earn+spend pairs per client")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"pairs per client: {args.size} (2 entries each)\n")
    print("| backend | clients | ours (entries/s) | raw driver (entries/s) | ours / raw |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url, drop = database(backend, Path(tmp))
            try:
                for clients in (int(c) for c in args.clients.split(",")):
                    ours_rate, raw_rate = measure(url, clients, args.size, f"c{clients}")
                    print(
                        f"| {backend} | {clients} | {ours_rate:,.0f} | {raw_rate:,.0f} | "
                        f"{ours_rate / raw_rate:.0%} |",
                        flush=True,
                    )
            finally:
                drop()


if __name__ == "__main__":
    main()
