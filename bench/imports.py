"""CSV order import vs the database's own bulk load of the same rows, on SQLite and PostgreSQL.

    python -m bench.imports [--lines N] [--backends sqlite,postgresql]

Generates a seeded generic orders.csv (about 4 lines per order, 50,000 members), then for each
backend, in the same run: (1) ``patron``'s import of the file in a child process (rows/s and
the child's peak RSS; also at N/4 lines, to show memory does not grow with the file), and
(2) the raw load: the file parsed into final order and line tuples (``csv.reader`` by
position, nothing checked) and bulk-loaded into the same tables, SQLite ``executemany`` in one
transaction, PostgreSQL ``COPY``. The goal (issue 12) compares ours with (2) including the
parsing; the load alone is shown too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine

from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.imports.bulk import LINE_COLUMNS
from patron.imports.bulk import ORDER_COLUMNS as ORDER_TABLE_COLUMNS
from patron.imports.generic import ORDER_COLUMNS
from patron.imports.runner import run_import
from patron.imports.sql import BulkSql
from patron.tenancy import service as tenancy

PG_ADMIN = os.environ.get("PATRON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START = datetime(2024, 6, 1, tzinfo=UTC)
PRODUCTS = [
    (f"SKU-{i:04d}", f"Product {i}", f"cat-{i % 12}", 500 + (i * 137) % 30000) for i in range(400)
]


def generate(path: Path, lines: int, members: int = 50_000, seed: int = 7) -> int:
    """A generic orders.csv with ``lines`` order lines; returns the number of orders."""
    rng = random.Random(seed)
    orders = written = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(ORDER_COLUMNS)
        while written < lines:
            orders += 1
            n = min(rng.choice((1, 2, 3, 4, 4, 5, 6, 7)), lines - written)
            member = rng.randrange(members)
            placed = START + timedelta(minutes=rng.randrange(60 * 24 * 540))
            anonymous = rng.random() < 0.1
            for k in range(n):
                sku, name, category, price = rng.choice(PRODUCTS)
                head = k == 0
                out.writerow(
                    [
                        f"B-{orders}",
                        placed.isoformat() if head else "",
                        "" if anonymous or not head else f"m{member}",
                        "",
                        "" if anonymous or not head else f"m{member}@example.com",
                        "",
                        ("S1" if member % 3 else "") if head else "",
                        "",
                        "",
                        "completed",
                        "1.00" if head and rng.random() < 0.2 else "",
                        "",
                        "",
                        sku,
                        name,
                        category,
                        rng.choice((1, 1, 1, 2, 3)),
                        f"{price // 100}.{price % 100:02d}",
                        "0.50" if rng.random() < 0.1 else "",
                    ]
                )
            written += n
    return orders


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    name = f"patron_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def new_merchant(engine: Engine, slug: str) -> int:
    with transaction(make_session_factory(engine)) as s:
        m = tenancy.create_merchant(s, slug, slug, "CNY", "Asia/Shanghai", "zh_Hans_CN")
        tenancy.create_store(s, m.id, "S1", "Main street", "store")
        return m.id


def peak_rss_kib() -> int:
    """This process's own peak RSS (KiB).

    Not ``ru_maxrss``: Linux carries the high-water mark across ``execve``, so a child started
    by a parent that once held 600 MiB (the raw load's parsed tuples) reports 600 MiB whatever
    it did itself. ``VmHWM`` belongs to the process's own address space, new at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_import(url: str, merchant_id: int, file: str) -> None:
    """Runs in a child process so its peak RSS is the import's alone."""
    engine = make_engine(url)
    started = time.perf_counter()
    with transaction(make_session_factory(engine)) as s, open(file, "rb") as f:
        result = run_import(s, merchant_id, "orders", f, commit_each_batch=True)
    seconds = time.perf_counter() - started
    peak_kib = peak_rss_kib()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "lines": result.lines_written,
                "rss_mib": peak_kib / 1024,
                "rejected": result.rejected,
            }
        )
    )


def ours(url: str, merchant_id: int, file: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--child", url, str(merchant_id), str(file)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def parsed_tuples(
    file: Path, merchant_id: int, postgres: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The file's orders and lines as final tuples: the parsing a minimal loader does (csv rows
    by position, no checks, no members), timed as part of the raw load."""
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    with file.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        col = {name: i for i, name in enumerate(next(reader))}
        c_order, c_placed, c_sku, c_name = (
            col[k] for k in ("order_id", "placed_at", "sku", "name")
        )
        c_category, c_price, c_qty = col["category"], col["unit_price"], col["quantity"]
        current = None
        for rec in reader:
            if rec[c_order] != current:
                current = rec[c_order]
                placed = datetime.fromisoformat(rec[c_placed])
                order_id = len(orders) + 10_000_000
                placed_value: Any = (
                    placed if postgres else placed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                )
                orders.append(
                    (
                        order_id,
                        merchant_id,
                        current,
                        None,
                        None,
                        "online",
                        "completed",
                        placed_value,
                        "CNY",
                        0,
                        0,
                        0,
                        0,
                        "raw",
                        "",
                        placed_value,
                    )
                )
                n = 0
            n += 1
            price = int(rec[c_price].replace(".", ""))
            qty = int(rec[c_qty])
            lines.append(
                (
                    len(lines) + 10_000_000,
                    merchant_id,
                    order_id,
                    n,
                    rec[c_sku],
                    rec[c_name],
                    rec[c_category],
                    qty,
                    price,
                    0,
                    qty * price,
                    qty * price,
                    0,
                    0,
                )
            )
    return orders, lines


def raw_load(engine: Engine, merchant_id: int, file: Path) -> dict[str, Any]:
    """Parse the file into final tuples and bulk-load them; both times (the goal compares ours
    with the load including the parsing, issue 12)."""
    postgres = engine.dialect.name == "postgresql"
    with transaction(make_session_factory(engine)) as s:
        sql = BulkSql(s, use_copy=True)
        s.connection()
        started = time.perf_counter()
        orders, lines = parsed_tuples(file, merchant_id, postgres)
        parsed = time.perf_counter()
        sql.insert("orders", ORDER_TABLE_COLUMNS, orders)
        sql.insert("order_lines", ("id", *LINE_COLUMNS), lines)
        s.flush()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "load_seconds": seconds - (parsed - started), "lines": len(lines)}


def run_backend(backend: str, file: Path, quarter: Path, workdir: Path) -> list[str]:
    url = fresh_database(backend, workdir)
    try:
        engine = make_engine(url)
        upgrade(engine)
        a, b, c = (new_merchant(engine, slug) for slug in ("bench-a", "bench-q", "bench-raw"))
        full = ours(url, a, file)
        small = ours(url, b, quarter)
        raw = raw_load(engine, c, file)
        engine.dispose()
    finally:
        drop_database(url)
    ours_rate = full["lines"] / full["seconds"]
    raw_rate = raw["lines"] / raw["seconds"]
    load_rate = raw["lines"] / raw["load_seconds"]
    return [
        f"| {backend} | {full['lines']:,} | {ours_rate:,.0f} | {raw_rate:,.0f} | "
        f"{ours_rate / raw_rate:.2f} | {load_rate:,.0f} | {ours_rate / load_rate:.2f} "
        f"| {full['rss_mib']:.0f} | {small['rss_mib']:.0f} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--child", nargs=3, metavar=("URL", "MERCHANT", "FILE"))
    args = parser.parse_args()
    if args.child:
        child_import(args.child[0], int(args.child[1]), args.child[2])
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        file, quarter = work / "orders.csv", work / "orders-quarter.csv"
        orders = generate(file, args.lines)
        generate(quarter, args.lines // 4)
        print(
            f"{args.lines:,} order lines, {orders:,} orders,"
            f" {file.stat().st_size / 2**20:.1f} MiB\n"
        )
        print(f"load average at start {os.getloadavg()[0]:.2f}\n")
        print(
            "| backend | lines | ours (lines/s) | raw parse + bulk load (lines/s) | ours / raw "
            "| raw bulk load alone (lines/s) | ours / load alone "
            "| peak RSS (MiB) | peak RSS at N/4 (MiB) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for backend in args.backends.split(","):
            for row in run_backend(backend, file, quarter, work):
                print(row, flush=True)


if __name__ == "__main__":
    main()
