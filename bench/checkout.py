"""Checkout against the strongest baselines, in one run, interleaved (issue 12).

    python -m bench.checkout [--size PURCHASES_PER_CLIENT] [--clients 1,8]
                             [--backends sqlite,postgresql] [--rounds 3] [--profile]

A purchase is what a till does: two lines from the catalogue, 100 points and 10.00 of stored
value paying part of it, the rest cash; it earns points (pending for the return window) and
growth. Every client has its own member; all share the merchant's accounts, as in a shop.

Contenders, each run ``--rounds`` times in turn with ``size / rounds`` purchases per client:
- **patron commit**: ``checkout.commit`` through the service layer (one write transaction);
- **patron quote+commit**: the quote (read transaction) then the commit, as a till does;
- **plain SQL**: the least a purchase must write, by hand (``bench/checkout_sql/``): the
  idempotency row, the order, the member's accounts, the merchant's accounts, a journal entry,
  its postings, an outbox event — 7 statements and a commit, on psycopg / sqlite3 directly;
- **plain function** (PostgreSQL): the same 7 statements as one PL/pgSQL call;
- **HTTP commit** and **HTTP no-op**: the commit endpoint and an endpoint that does nothing,
  served by the same app on the same uvicorn server; then the commit endpoint paced at half its
  measured rate, for the p99 latency.

CPU per purchase: this process's CPU (``time.process_time``, every thread) plus, on
PostgreSQL, the CPU of the database's backends (``/proc/<pid>/stat`` of the processes serving
the benchmark's database), divided by the purchases. ``--profile`` prints the statements of one
commit and one quote, and a cProfile of commits.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import Body
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from tests.live import live_server

from patron.app import create_app
from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest, QuoteRequest
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.ledger import service as ledger
from patron.members.models import Member
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs import stored_value
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.tenancy import service as tenancy

SQL_DIR = Path(__file__).parent / "checkout_sql"

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MEMBER_IDS = 900_000_001
SECRET = "bench-secret-key-0123456789abcdef"
CART = [{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}]
PROGRAM: dict[str, dict[str, Any]] = {
    "points": {
        "earn_points": 1,
        "per_minor": 100,
        "pending_days": 7,
        "expiry": {"mode": "rolling", "months": 12},
        "redemption": {"points": 100, "value_minor": 100, "max_share_percent": 50},
    },
    "tiers": {
        "tiers": [
            {"code": "silver", "name": "Silver", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 10**9, "discount_percent": "5"},
        ],
        "growth_per": 1,
        "per_minor": 100,
    },
    "stored_value": {"bonus_levels": [{"top_up_minor": 10000, "bonus_minor": 2000}]},
}


@dataclass
class Shop:
    engine: Engine
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]
    merchant_id: int
    members: list[int]
    clerk_key: str


def setup(url: str, clients: int) -> Shop:
    engine = make_engine(url, **({} if url.startswith("sqlite") else {"pool_size": 20}))
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        merchant = tenancy.create_merchant(
            s, "Bench", f"bench-{uuid.uuid4().hex[:8]}", "CNY", "Asia/Shanghai", "en"
        )
        m = merchant.id
        tenancy.create_store(s, m, "S1", "Main street", "store")
        _k, clerk_key = tenancy.create_api_key(s, m, "till", "clerk")
        for kind, config in PROGRAM.items():
            put_rule(s, m, Kind(kind), config, actor="bench")
        for sku, name, cat, price in [
            ("TEA-1", "Green tea", "tea", 12810),
            ("CUP-1", "Cup", "ware", 4530),
        ]:
            create_product(s, m, ProductCreate(sku=sku, name=name, category=cat, price_minor=price))
        now = s.execute(text("SELECT 1")).scalar()  # keep the connection warm
        del now
        # Member ids far from every other id, so the replay can tell them apart by value.
        members = [
            Member(
                id=MEMBER_IDS + 100 * clients + i,
                merchant_id=m,
                created_at=merchant.created_at,
                updated_at=merchant.created_at,
            )
            for i in range(clients)
        ]
        s.add_all(members)
        s.flush()
        member_ids = [mem.id for mem in members]
    info = ledger.EntryInfo("bench", "Points to spend", "bench")
    for member_id in member_ids:  # enough points and stored value for every purchase
        with transaction(sessions) as s:
            ledger.earn_points(s, m, member_id, 10**7, info)
            stored_value.top_up(s, m, member_id, 10**9, f"top-{member_id}", "bench")
    reads = make_session_factory(engine, read_only=True)
    return Shop(engine, sessions, reads, m, member_ids, clerk_key)


def request(member_id: int) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "store_code": "S1",
        "lines": CART,
        "points": 100,
        "stored_value": 1000,
    }


def purchase(shop: Shop, member_id: int, key: str) -> None:
    """Quote in a read transaction, then commit in a write transaction (what a till does)."""
    body = request(member_id)
    with transaction(shop.reads) as s:
        checkout.quote(s, shop.merchant_id, QuoteRequest.model_validate(body), SECRET)
    with transaction(shop.sessions) as s:
        out = checkout.commit(
            s, shop.merchant_id, CommitRequest.model_validate(body), key, "bench", SECRET
        )
        assert not out.replayed


def commit_only(shop: Shop, member_id: int, key: str) -> None:
    """The commit alone (its quote recomputed inside, as the endpoint does)."""
    body = request(member_id)
    with transaction(shop.sessions) as s:
        out = checkout.commit(
            s, shop.merchant_id, CommitRequest.model_validate(body), key, "bench", SECRET
        )
        assert not out.replayed


# --- counting statements --------------------------------------------------------------------


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent (BEGIN left out: PostgreSQL's is implicit) and "COMMIT"s."""
    got: list[str] = []

    def statement(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        if not sql.startswith("BEGIN"):
            got.append(sql)

    def committed(_c: Any) -> None:
        got.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        yield got
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)


def kind_of(statement: str) -> str:
    words = statement.split()
    head = words[0].upper()
    if head in {"INSERT", "DELETE"}:
        return f"{head} {words[2]}"
    if head == "UPDATE":
        return f"UPDATE {words[1]}"
    if head == "SELECT" and " FROM " in statement.upper():
        return "SELECT " + statement.upper().split(" FROM ", 1)[1].split()[0].lower()
    return head


# --- the plain purchase -----------------------------------------------------------------------


def _statements(name: str, dialect: str) -> list[str]:
    sql = (SQL_DIR / name).read_text()
    if dialect == "sqlite":
        sql = sql.replace(
            "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "integer PRIMARY KEY"
        )
    body = "\n".join(ln for ln in sql.splitlines() if not ln.startswith("--"))
    return [s.strip() for s in body.split("\n;\n") if s.strip()]


# The seven statements of bench/checkout_sql/purchase.pgbench, with parameters.
PLAIN = [
    "INSERT INTO plain_idempotency VALUES (:m, :k, :f) ON CONFLICT DO NOTHING RETURNING 1",
    "INSERT INTO plain_orders (merchant_id, member_id, external_id, total_minor) "
    "VALUES (:m, :mem, :k, :total) RETURNING id",
    "UPDATE plain_accounts SET balance = balance + CASE id WHEN :points THEN :earn - :spend "
    "ELSE :earn END WHERE id IN (:points, :growth) AND balance >= :spend",
    "UPDATE plain_accounts SET balance = balance + CASE id WHEN :redeemed THEN :spend "
    "ELSE -2 * :earn END WHERE id IN (:redeemed, :issued)",
    "INSERT INTO plain_entries (merchant_id, reason, order_id) VALUES (:m, 'purchase', :o) "
    "RETURNING id",
    "INSERT INTO plain_postings (merchant_id, entry_id, account_id, amount) VALUES "
    "(:m, :e, :points, :earn - :spend), (:m, :e, :growth, :earn), (:m, :e, :redeemed, :spend), "
    "(:m, :e, :issued, -2 * :earn)",
    "INSERT INTO plain_outbox (merchant_id, type, payload) VALUES (:m, 'checkout.committed', :p)",
]
FUNCTION_CALL = (
    "SELECT plain_purchase(:m, :mem, :k, :total, :spend, :earn, :points, :growth, :redeemed, "
    ":issued)"
)


def _pyformat(sql: str) -> str:
    return re.sub(r"(?<!:):([a-z]+)", r"%(\1)s", sql)


class Plain:
    """The plain purchase on a raw connection (psycopg or sqlite3)."""

    def __init__(self, url: str, sqlite_path: str | None) -> None:
        self.url, self.sqlite_path = url, sqlite_path
        self.dialect = "sqlite" if sqlite_path else "postgresql"
        self.plain = PLAIN if sqlite_path else [_pyformat(s) for s in PLAIN]
        self.call = _pyformat(FUNCTION_CALL)

    def connect(self) -> Any:
        if self.sqlite_path:
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        return psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"))

    def install(self, clients: int) -> dict[int, dict[str, int]]:
        """The tables (and function), the merchant's two accounts and each client's two."""
        conn = self.connect()
        for statement in _statements("schema.sql", self.dialect):
            conn.execute(statement)
        if self.dialect == "postgresql":
            conn.execute(_statements("function.sql", self.dialect)[0])
        ids: dict[int, dict[str, int]] = {}
        add = "INSERT INTO plain_accounts (id, merchant_id, member_id, code, balance) VALUES "
        conn.execute(add + "(3, 1, NULL, 'points_redeemed', 0), (4, 1, NULL, 'points_issued', 0)")
        for i in range(clients):
            points, growth = 10 + 2 * i, 11 + 2 * i
            conn.execute(
                add + f"({points}, 1, {i + 1}, 'points', {10**12}), ({growth}, 1, {i + 1}, "
                f"'growth', {10**12})"
            )
            ids[i] = {"mem": i + 1, "points": points, "growth": growth, "redeemed": 3, "issued": 4}
        conn.commit()
        conn.close()
        return ids

    def params(self, who: dict[str, int], key: str) -> dict[str, Any]:
        f = hashlib.sha256(key.encode()).hexdigest()
        return {"m": 1, "k": key, "f": f, "total": 29150, "spend": 100, "earn": 291, **who}

    def purchase(self, conn: Any, who: dict[str, int], key: str) -> None:
        p = self.params(who, key)
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
        cur = conn.cursor()
        cur.execute(self.plain[0], p)
        if cur.fetchone() is None:  # a replay: nothing more to write
            conn.rollback()
            return
        p["o"] = cur.execute(self.plain[1], p).fetchone()[0]
        if cur.execute(self.plain[2], p).rowcount != 2:
            conn.rollback()
            raise RuntimeError("insufficient balance")
        cur.execute(self.plain[3], p)
        p["e"] = cur.execute(self.plain[4], p).fetchone()[0]
        cur.execute(self.plain[5], p)
        cur.execute(self.plain[6], {**p, "p": json.dumps({"order_id": p["o"], "total": 29150})})
        conn.commit()

    def function(self, conn: Any, who: dict[str, int], key: str) -> None:
        conn.execute(self.call, self.params(who, key)).fetchone()
        conn.commit()


# --- running and measuring ------------------------------------------------------------------


def backend_cpu(database: str | None) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database``."""
    if database is None:
        return 0.0
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            if not cmd.startswith(b"postgres: ") or f" {database} ".encode() not in cmd:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    purchases: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def add(self, other: Run) -> None:
        self.purchases += other.purchases
        self.seconds += other.seconds
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu

    @property
    def rate(self) -> float:
        return self.purchases / self.seconds if self.seconds else float("nan")

    def ms(self, cpu: float) -> float:
        return 1000 * cpu / self.purchases if self.purchases else float("nan")


def run_clients(
    clients: int, n: int, work: Callable[[int, int], None], database: str | None
) -> Run:
    """``clients`` threads doing ``n`` purchases each: wall time and CPU."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        barrier.wait()
        try:
            for k in range(n):
                work(i, k)
        except BaseException as exc:  # reported below: a failed run is no figure
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    cpu, server = time.process_time(), backend_cpu(database)
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    run = Run(clients * n, elapsed, time.process_time() - cpu, backend_cpu(database) - server)
    if errors:
        raise errors[0]
    return run


def paced_latencies(
    clients: int, rate: float, seconds: float, work: Callable[[int, int], None]
) -> list[float]:
    """Each client sends at ``rate / clients`` per second for ``seconds``: every latency."""
    latencies: list[float] = []
    gap = clients / rate
    count = max(1, int(seconds / gap))

    def client(i: int) -> None:
        start = time.perf_counter() + i * gap / clients
        for k in range(count):
            wait = start + k * gap - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = time.perf_counter()
            work(i, k)
            latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def http_app(shop: Shop, url: str) -> Any:
    settings = Settings(
        env="development",
        database_url=url,
        secret_key=SECRET,
        worker_in_process=False,
        log_json=False,
    )
    app = create_app(settings, engine=shop.engine, run_worker=False)

    # Served the same way as the commit endpoint (a plain ``def`` in the thread pool, a JSON
    # body parsed), doing nothing with it.
    @app.post("/api/v1/bench/no-op", include_in_schema=False)
    def no_op(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return {}

    return app


# --- one backend, one number of clients -------------------------------------------------------


@dataclass
class Row:
    name: str
    statements: str
    run: Run


def statements_of(shop: Shop) -> tuple[int, int, list[str]]:
    """Statements (with COMMIT) of one commit and of one quote, warm."""
    member = shop.members[0]
    purchase(shop, member, f"count-warm-{uuid.uuid4().hex[:6]}")
    with counting(shop.engine) as committed:
        commit_only(shop, member, f"count-{uuid.uuid4().hex[:6]}")
    body = QuoteRequest.model_validate(request(member))
    with counting(shop.engine) as quoted, transaction(shop.reads) as s:
        checkout.quote(s, shop.merchant_id, body, SECRET)
    return len(committed), len([q for q in quoted if q != "COMMIT"]), committed


def measure(url: str, clients: int, n: int, rounds: int, database: str | None) -> list[Row]:
    shop = setup(url, clients)
    sqlite_path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else None
    plain = Plain(url, sqlite_path)
    who = plain.install(clients)
    commit_n, quote_n, _ = statements_of(shop)
    tag = uuid.uuid4().hex[:6]
    per = max(1, n // rounds)
    conns = [plain.connect() for _ in range(clients)]
    app = http_app(shop, url)
    headers = {"Authorization": f"Bearer {shop.clerk_key}"}
    rows = {
        name: Row(name, st, Run())
        for name, st in [
            ("patron commit", str(commit_n)),
            ("patron quote+commit", f"{quote_n} + {commit_n}"),
            ("plain SQL", "8"),
            ("plain function", "2"),
            ("HTTP commit", str(commit_n)),
            ("HTTP no-op", "0"),
        ]
    }
    if sqlite_path:
        del rows["plain function"]
    with live_server(app) as base:
        http = [httpx.Client(base_url=base, timeout=60) for _ in range(clients)]

        def http_commit(i: int, k: int, r: int) -> None:
            key = {"Idempotency-Key": f"{tag}h{r}-{i}-{k}"}
            for _attempt in range(50):  # a till retries a 503 (admission control, ADR 0040)
                got = http[i].post(
                    "/api/v1/checkout/commit", json=request(shop.members[i]), headers=headers | key
                )
                if got.status_code != 503:
                    break
                time.sleep(0.05)
            assert got.status_code == 201, got.text

        def http_no_op(i: int, k: int) -> None:
            got = http[i].post(
                "/api/v1/bench/no-op", json=request(shop.members[i]), headers=headers
            )
            assert got.status_code == 200, got.text

        for r in range(rounds):
            work: dict[str, Callable[[int, int], None]] = {
                "patron commit": lambda i, k, r=r: commit_only(
                    shop, shop.members[i], f"{tag}c{r}-{i}-{k}"
                ),
                "patron quote+commit": lambda i, k, r=r: purchase(
                    shop, shop.members[i], f"{tag}q{r}-{i}-{k}"
                ),
                "plain SQL": lambda i, k, r=r: plain.purchase(
                    conns[i], who[i], f"{tag}p{r}-{i}-{k}"
                ),
                "plain function": lambda i, k, r=r: plain.function(
                    conns[i], who[i], f"{tag}f{r}-{i}-{k}"
                ),
                "HTTP commit": lambda i, k, r=r: http_commit(i, k, r),
                "HTTP no-op": http_no_op,
            }
            if r == 0:  # warm every path (connections, compiled statements, caches) first
                for name in rows:
                    run_clients(clients, 1, lambda i, k, w=work[name]: w(i, 10**6 + k), None)
            names = list(rows) if r % 2 == 0 else list(reversed(rows))
            for name in names:
                rows[name].run.add(run_clients(clients, per, work[name], database))
        rate = rows["HTTP commit"].run.rate / 2
        seconds = max(3.0, min(10.0, per * clients / max(rate, 0.1)))
        latencies = paced_latencies(
            clients, rate, seconds, lambda i, k: http_commit(i, k, 99 + int(time.time()))
        )
        for c in http:
            c.close()
    for conn in conns:
        conn.close()
    shop.engine.dispose()
    out = list(rows.values())
    out.append(
        Row(
            f"HTTP commit paced at {rate:.1f}/s: p99 {1000 * p99(latencies):.0f} ms "
            f"({len(latencies)} requests)",
            "",
            Run(),
        )
    )
    return out


def database(backend: str, tmp: Path) -> tuple[str, str | None, Callable[[], None]]:
    if backend == "sqlite":
        path = tmp / f"bench-checkout-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", None, lambda: None
    name = f"patron_bench_checkout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name, drop


def profile(backend: str, tmp: Path, n: int) -> None:
    url, _name, drop = database(backend, tmp)
    try:
        shop = setup(url, 1)
        commit_n, quote_n, committed = statements_of(shop)
        print(f"\n{backend}: a commit sends {commit_n} statements, a quote {quote_n} (warm)")
        for sql in committed:
            print(f"  {kind_of(sql)}")
        prof = cProfile.Profile()
        prof.enable()
        for k in range(n):
            commit_only(shop, shop.members[0], f"prof-{k}")
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        shop.engine.dispose()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=30, help="purchases per client")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            for backend in args.backends.split(","):
                profile(backend, Path(tmp), args.size)
            return
        print(
            f"purchases per client: {args.size} in {args.rounds} rounds; "
            f"load average at the start: {os.getloadavg()[0]:.2f}\n"
        )
        print(
            "| backend | clients | what | statements | purchases/s | client CPU ms "
            "| server CPU ms | CPU ms per purchase | × plain SQL |"
        )
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for backend in args.backends.split(","):
            for clients in (int(c) for c in args.clients.split(",")):
                url, name, drop = database(backend, Path(tmp))
                try:
                    rows = measure(url, clients, args.size, args.rounds, name)
                finally:
                    drop()
                base = next(r for r in rows if r.name == "plain SQL").run
                base_cpu = base.ms(base.client_cpu + base.server_cpu)
                for row in rows:
                    run = row.run
                    if not run.purchases:
                        print(f"| {backend} | {clients} | {row.name} | | | | | | |")
                        continue
                    cpu = run.ms(run.client_cpu + run.server_cpu)
                    print(
                        f"| {backend} | {clients} | {row.name} | {row.statements} "
                        f"| {run.rate:,.1f} | {run.ms(run.client_cpu):.2f} "
                        f"| {run.ms(run.server_cpu):.2f} | {cpu:.2f} | {cpu / base_cpu:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
