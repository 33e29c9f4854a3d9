"""Committed purchases per second (quote + commit) through the service layer and through HTTP,
beside the raw database executing the same statements, in the same run.

    python -m bench.checkout [--size PURCHASES_PER_CLIENT] [--clients 1,8]
                             [--backends sqlite,postgresql] [--profile] [--processes]

A purchase is what a till does: a quote (read-only transaction), then a commit with an
idempotency key (one write transaction): two lines from the catalogue, 100 points and 10.00 of
stored value paying part of it, the rest cash; it earns points (pending for the return window)
and growth. Every client has its own member; all share the merchant's accounts, as in a shop.

The raw figure replays the SQL one purchase through the service layer actually sent (captured
with a SQLAlchemy ``before_cursor_execute`` listener: every statement with its parameters, the
quote's and the commit's), straight to sqlite3 / psycopg, with the ids each INSERT … RETURNING
produced mapped to the new rows' ids and the purchase's key made unique. ``--profile`` prints the
statements per purchase by kind and a cProfile of the service-layer purchase.

Clients are threads of this process by default; ``--processes`` forks one process per client
for both the service layer and the raw replay (as ``patron serve --workers N`` serves several
tills from several processes; ADR 0375), without the HTTP column.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import pstats
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import JSON, Engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from tests.live import live_server

from patron.app import create_app
from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest, QuoteRequest
from patron.core.config import Settings
from patron.core.db import Base, make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.ledger import service as ledger
from patron.members.models import Member
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs import stored_value
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.tenancy import service as tenancy

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
    spread_ids(engine)
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


# --- capturing the SQL of one purchase ------------------------------------------------------


COMMIT = "<commit>"


@dataclass
class Captured:
    statements: list[tuple[str, Any, bool]] = field(default_factory=list)


@contextmanager
def capture(engine: Engine) -> Iterator[Captured]:
    got = Captured()

    def listener(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        got.statements.append((statement, params, many))

    def committed(conn: Any) -> None:
        got.statements.append((COMMIT, None, False))

    event.listen(engine, "before_cursor_execute", listener)
    event.listen(engine, "commit", committed)
    try:
        yield got
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        event.remove(engine, "commit", committed)


def kind_of(statement: str) -> str:
    if statement == COMMIT:
        return "COMMIT"
    words = statement.split()
    head = words[0].upper()
    if head == "WITH":  # a CTE then the statement proper: name that
        m = re.search(r"\)\s+(UPDATE|INSERT INTO|DELETE FROM|SELECT)\s+(\w+)", statement, re.I)
        if m:
            verb = m.group(1).split()[0].upper()
            return f"{verb} {m.group(2)} (WITH)"
    if head in {"INSERT", "DELETE"}:
        return f"{head} {words[2]}"
    if head == "UPDATE":
        return f"UPDATE {words[1]}"
    if head == "SELECT":
        m = re.search(r"\bFROM\s+(\w+)", statement, re.I)
        return f"SELECT {m.group(1) if m else '?'}"
    return head


_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.I)


def id_tables() -> list[str]:
    import patron.models  # noqa: F401  (every table registered on the metadata)

    return [t.name for t in Base.metadata.sorted_tables if "id" in t.c]


def max_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {name}")).scalar_one())
            for name in id_tables()
        }


def spread_ids(engine: Engine) -> None:
    """Give every table its own id range (table k: from k * 10**7), so an id in the captured
    SQL names one row of one table. PostgreSQL: move the sequences. SQLite (next id = largest
    + 1): a placeholder row at the range start, written with foreign keys off, under merchant 0
    so no query of the shop ever sees it."""
    tables = [t for t in Base.metadata.sorted_tables if "id" in t.c]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Never backwards: a second shop in the same database (1 client, then 8) would
            # otherwise hand out the ids of the first shop's rows again.
            for k, t in enumerate(tables, start=1):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                        f"greatest({k * 10**7}, (SELECT coalesce(max(id), 0) FROM {t.name})))"
                    )
                )
            return
    raw = sqlite3.connect(engine.url.database or "", isolation_level=None)
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("PRAGMA ignore_check_constraints=ON")
    raw.execute("BEGIN IMMEDIATE")
    for k, t in enumerate(tables, start=1):
        row = {"id": k * 10**7}
        for c in t.c:
            if c.name != "id" and (not c.nullable or c.name == "merchant_id"):
                row[c.name] = _placeholder(c, t.name)
        marks = ", ".join("?" for _ in row)
        raw.execute(
            f"INSERT OR IGNORE INTO {t.name} ({', '.join(row)}) VALUES ({marks})",
            list(row.values()),
        )
    raw.execute("COMMIT")
    raw.close()


def _placeholder(column: Any, table: str) -> Any:
    if column.name == "merchant_id":
        return 0
    if isinstance(column.type, JSON):
        return "{}"
    try:
        kind = column.type.python_type
    except NotImplementedError:  # JSON
        return "{}"
    if kind is bool:
        return 0
    if kind is int:  # satisfies "positive" checks and "remaining <= amount" alike
        return 1
    if kind is str:
        return f"~{table}.{column.name}"
    if kind in (dict, list):
        return "{}"
    if kind is date:
        return "2000-01-01"
    return "2000-01-01 00:00:00.000000"


def inserted_ids(engine: Engine, got: Captured, before: dict[str, int]) -> dict[str, list[int]]:
    """The ids the captured purchase's INSERTs produced, per table in order: the rows above
    each table's highest id before the purchase (one writer, so ids are handed out in order)."""
    tables = {m.group(1) for s, _p, _many in got.statements if (m := _INSERT.match(s))}
    out: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for table in tables:
            rows = conn.execute(
                text(f"SELECT id FROM {table} WHERE id > :b ORDER BY id"), {"b": before[table]}
            )
            out[table] = [r[0] for r in rows]
    return out


class Replay:
    """The captured statements, replayed on a raw driver connection for another member/key.

    ``got`` and ``twin`` are two consecutive purchases of the same member: a parameter that
    differs between them and equals an id ``got`` inserted is that id, and is mapped to the id
    the replay's own INSERT produced (a constant that happens to equal such an id — an account
    id, a price — stays as it is)."""

    def __init__(
        self,
        url: str,
        got: Captured,
        twin: Captured,
        old_ids: dict[str, list[int]],
        member_id: int,
        tag: str,
    ) -> None:
        self.pg = url.startswith("postgresql")
        self.url = url
        self.got = got
        self.old_ids = old_ids
        self.member_id = member_id
        self.tag = tag
        same = len(twin.statements) == len(got.statements)
        self.twins = (
            [t[1] if same else None for t in twin.statements]
            if same
            else [None] * len(got.statements)
        )

    def connect(self) -> Any:
        if self.pg:
            return psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"))
        conn = sqlite3.connect(
            self.url.removeprefix("sqlite:///"),
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
        )
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _sub(self, value: Any, twin: Any, ids: dict[int, int], member_id: int, tag: str) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if value == self.member_id:
                return member_id
            return ids.get(value, value) if value != twin else value
        if isinstance(value, str) and self.tag in value:
            return value.replace(self.tag, tag)
        return value

    def _params(self, params: Any, twin: Any, ids: dict[int, int], member_id: int, tag: str) -> Any:
        if isinstance(params, dict):
            tw = twin if isinstance(twin, dict) else {}
            return {
                k: self._sub(v, tw.get(k, object()), ids, member_id, tag) for k, v in params.items()
            }
        if isinstance(params, (list, tuple)):
            tw = (
                twin
                if isinstance(twin, (list, tuple)) and len(twin) == len(params)
                else [object()] * len(params)
            )
            if params and isinstance(params[0], (dict, list, tuple)):
                return [
                    self._params(p, t, ids, member_id, tag) for p, t in zip(params, tw, strict=True)
                ]
            return tuple(
                self._sub(v, t, ids, member_id, tag) for v, t in zip(params, tw, strict=True)
            )
        return params

    def run(self, conn: Any, member_id: int, tag: str) -> None:
        try:
            self._run(conn, member_id, tag)
        except BaseException:
            conn.rollback()  # never leave locks behind for the other clients
            raise

    def _run(self, conn: Any, member_id: int, tag: str) -> None:
        ids: dict[int, int] = {}
        queues = {t: list(v) for t, v in self.old_ids.items()}
        for (statement, params, many), twin in zip(self.got.statements, self.twins, strict=True):
            if statement == COMMIT:
                conn.commit()
                continue
            p = self._params(params, twin, ids, member_id, tag)
            rows = p if many and isinstance(p, list) else [p]
            if many and isinstance(p, list):
                cur = conn.cursor()
                cur.executemany(statement, p)
            else:
                cur = conn.execute(statement, p)
            m = _INSERT.match(statement)
            if m:
                old = queues.get(m.group(1), [])
                if cur.description is not None:
                    new = sorted(r[0] for r in cur.fetchall())
                elif not self.pg and len(rows) == 1:
                    new = [cur.lastrowid]
                else:  # rows nobody refers to later (postings, allocations)
                    del old[: len(rows)]
                    continue
                for n in new:
                    if old:
                        ids[old.pop(0)] = n
            elif cur.description is not None:
                cur.fetchall()


# --- running clients -----------------------------------------------------------------------


def run_clients(clients: int, n: int, work: Callable[[int, int], None]) -> float:
    """Purchases per second with ``clients`` threads doing ``n`` purchases each."""
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
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return clients * n / elapsed


def run_processes(
    clients: int, n: int, work: Callable[[int, int], None], before: Callable[[], None]
) -> float:
    """Purchases per second with ``clients`` forked processes doing ``n`` purchases each (as
    several server processes would serve several tills). ``before`` runs first in each child
    (drop connections inherited from the parent)."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    failed = ctx.Value("i", 0)

    def child(i: int) -> None:
        before()
        barrier.wait()
        try:
            for k in range(n):
                work(i, k)
        except BaseException:
            with failed.get_lock():
                failed.value += 1
            raise

    procs = [ctx.Process(target=child, args=(i,)) for i in range(clients)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    if failed.value or any(p.exitcode for p in procs):
        raise RuntimeError(f"{failed.value} client process(es) failed")
    return clients * n / elapsed


def http_purchase(client: httpx.Client, headers: dict[str, str], member_id: int, key: str) -> None:
    body = request(member_id)
    r = client.post("/api/v1/checkout/quote", json=body, headers=headers)
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/checkout/commit", json=body, headers={**headers, "Idempotency-Key": key}
    )
    assert r.status_code == 201, r.text


@dataclass
class Figures:
    service: float
    http: float
    raw: float
    statements: int


def capture_one(shop: Shop) -> tuple[Captured, Captured, dict[str, list[int]]]:
    """The SQL of one purchase (and of the next one, to tell ids from constants)."""
    purchase(shop, shop.members[0], "warm-up")  # the caches and accounts of a live shop
    before = max_ids(shop.engine)
    with capture(shop.engine) as got:
        purchase(shop, shop.members[0], "CAPTURED-TAG")
    old_ids = inserted_ids(shop.engine, got, before)
    with capture(shop.engine) as twin:
        purchase(shop, shop.members[0], "CAPTURED-TWIN")
    return got, twin, old_ids


def measure(url: str, clients: int, n: int, run: str, processes: bool = False) -> Figures:
    shop = setup(url, clients)
    got, twin, old_ids = capture_one(shop)
    if processes:
        replay = Replay(url, got, twin, old_ids, shop.members[0], "CAPTURED-TAG")
        service = run_processes(
            clients,
            n,
            lambda i, k: purchase(shop, shop.members[i], f"{run}s{i}-{k}"),
            lambda: shop.engine.dispose(close=False),
        )
        conn: list[Any] = []
        raw = run_processes(
            clients,
            n,
            lambda i, k: replay.run(conn[0], shop.members[i], f"{run}r{i}-{k}"),
            lambda: conn.append(replay.connect()),
        )
        shop.engine.dispose()
        return Figures(service, float("nan"), raw, len(got.statements))
    service = run_clients(
        clients, n, lambda i, k: purchase(shop, shop.members[i], f"{run}s{i}-{k}")
    )
    settings = Settings(
        env="development",
        database_url=url,
        secret_key=SECRET,
        worker_in_process=False,
        log_json=False,
    )
    app = create_app(settings, engine=shop.engine, run_worker=False)
    headers = {"Authorization": f"Bearer {shop.clerk_key}"}
    with live_server(app) as base:
        http_clients = [httpx.Client(base_url=base, timeout=60) for _ in range(clients)]
        http = run_clients(
            clients,
            n,
            lambda i, k: http_purchase(http_clients[i], headers, shop.members[i], f"{run}h{i}-{k}"),
        )
        for c in http_clients:
            c.close()
    replay = Replay(url, got, twin, old_ids, shop.members[0], "CAPTURED-TAG")
    conns = [replay.connect() for _ in range(clients)]
    raw = run_clients(
        clients, n, lambda i, k: replay.run(conns[i], shop.members[i], f"{run}r{i}-{k}")
    )
    for conn in conns:
        conn.close()
    shop.engine.dispose()
    return Figures(service, http, raw, len(got.statements))


def database(backend: str, tmp: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'bench-checkout-{uuid.uuid4().hex[:6]}.db'}", lambda: None
    name = f"patron_bench_checkout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def profile(backend: str, tmp: Path, n: int) -> None:
    url, drop = database(backend, tmp)
    try:
        shop = setup(url, 1)
        got, _twin, _ids = capture_one(shop)
        print(f"\n{backend}: {len(got.statements)} statements per purchase (quote + commit)")
        for kind, count in Counter(kind_of(s) for s, _p, _m in got.statements).most_common():
            print(f"  {count:3d}  {kind}")
        prof = cProfile.Profile()
        prof.enable()
        for k in range(n):
            purchase(shop, shop.members[0], f"prof-{k}")
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        shop.engine.dispose()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20, help="purchases per client")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="clients are forked processes (service and raw alike), not threads; no HTTP",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            for backend in args.backends.split(","):
                profile(backend, Path(tmp), args.size)
            return
        print(f"purchases per client: {args.size} (quote + commit each)\n")
        print(
            "| backend | clients | statements | service (purchases/s) | HTTP (purchases/s) "
            "| raw driver (purchases/s) | service / raw | HTTP / raw |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for backend in args.backends.split(","):
            url, drop = database(backend, Path(tmp))
            try:
                for clients in (int(c) for c in args.clients.split(",")):
                    f = measure(url, clients, args.size, f"c{clients}", args.processes)
                    http = "—" if args.processes else f"{f.http:,.1f}"
                    http_ratio = "—" if args.processes else f"{f.http / f.raw:.0%}"
                    print(
                        f"| {backend} | {clients} | {f.statements} | {f.service:,.1f} "
                        f"| {http} | {f.raw:,.1f} | {f.service / f.raw:.0%} | {http_ratio} |",
                        flush=True,
                    )
            finally:
                drop()


if __name__ == "__main__":
    main()
