"""Analytics benchmark: Ibis-on-DuckDB vs hand-written DuckDB SQL, and incremental sync.

    python -m bench.analytics [--lines N] [--sync-orders N] [--sync-url URL] [--sync-only]

1. The FULL metric suite (``compute_suite``: every customer, funnel, RFM, cohort and program
   metric) on N order lines (~4 lines per order: N/4 orders, N/10 customers with heterogeneous
   rates; program tables sized from the customers) vs the same metrics written by hand in
   DuckDB SQL (``HAND_SQL`` here + ``bench/analytics_sql.py``), each side best of 3 with the
   side that runs first alternating between rounds; plus the five heavy metrics one by one.
2. On SQLite (or the empty PostgreSQL database ``--sync-url``): syncing one more day of orders
   incrementally vs re-extracting everything.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
from sqlalchemy import insert

from bench.analytics_data import generate
from bench.analytics_sql import MORE_SQL
from patron.analytics import cohorts, metrics, rfm
from patron.analytics.facts import Scope
from patron.analytics.suite import compute_suite
from patron.analytics.sync import sync
from patron.core.db import make_engine
from patron.core.migrate import upgrade
from patron.members.models import Member
from patron.orders.models import Order
from patron.tenancy.models import Merchant

START, END = date(2024, 1, 1), date(2026, 1, 1)
M0 = 2024 * 12
HAND_SQL = {
    "kpis": f"""
WITH p AS (SELECT member_id, total_minor - refunded_minor AS net,
             year(placed_local) * 12 + month(placed_local) - 1 AS pidx
           FROM orders WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled')),
f AS (SELECT member_id, min(year(placed_local) * 12 + month(placed_local) - 1) AS fp FROM orders
      WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled') AND member_id IS NOT NULL
      GROUP BY 1),
cp AS (SELECT pidx, member_id, count(*) n, sum(net) rev FROM p WHERE member_id IS NOT NULL
       AND pidx BETWEEN {M0 - 1} AND {M0 + 23} GROUP BY 1, 2),
c AS (SELECT cp.pidx, count(*) customers, sum((cp.pidx = f.fp)::INT) new_c, sum(cp.n) io,
        sum((cp.n >= 2)::INT) rep, sum((prev.member_id IS NOT NULL)::INT) ret,
        sum(CASE WHEN cp.pidx = f.fp THEN 0 ELSE cp.rev END) rrev, sum(cp.rev) irev
      FROM cp JOIN f USING (member_id)
      LEFT JOIN cp prev ON prev.member_id = cp.member_id AND prev.pidx = cp.pidx - 1 GROUP BY 1),
o AS (SELECT pidx, count(*) orders, sum(net) revenue FROM p
      WHERE pidx BETWEEN {M0 - 1} AND {M0 + 23} GROUP BY 1)
SELECT o.pidx, customers, new_c, orders, revenue, revenue / orders, io / customers,
  rep / customers, ret / lag(customers) OVER (ORDER BY o.pidx), rrev / irev
FROM o LEFT JOIN c USING (pidx) ORDER BY 1""",
    "pareto": """
WITH r AS (SELECT member_id, sum(total_minor - refunded_minor) rev FROM orders
  WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled') AND member_id IS NOT NULL
  AND placed_local >= DATE '2024-01-01' AND placed_local < DATE '2026-01-01' GROUP BY 1),
k AS (SELECT rev, row_number() OVER (ORDER BY rev DESC, member_id) pos, count(*) OVER () n FROM r)
SELECT sum(CASE WHEN pos <= (n + 4) // 5 THEN rev ELSE 0 END) / sum(rev) FROM k""",
    "second_purchase": """
WITH p AS (SELECT member_id, epoch(placed_local)::BIGINT // 86400 AS day, placed_local,
             row_number() OVER (PARTITION BY member_id ORDER BY placed_local, id) - 1 AS n
           FROM orders WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled')
             AND member_id IS NOT NULL AND placed_local < DATE '2026-01-01'),
f AS (SELECT member_id, day FROM p WHERE n = 0 AND placed_local >= DATE '2024-01-01'),
s AS (SELECT member_id, day FROM p WHERE n = 1)
SELECT CASE WHEN s.day IS NULL THEN 20453 - f.day ELSE s.day - f.day END d,
  sum((s.day IS NOT NULL)::INT), sum((s.day IS NULL)::INT)
FROM f LEFT JOIN s USING (member_id) GROUP BY 1 ORDER BY 1""",
    "cohorts": """
WITH p AS (SELECT member_id, total_minor - refunded_minor net,
             year(placed_local) * 12 + month(placed_local) - 1 m FROM orders
           WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled')
             AND member_id IS NOT NULL),
f AS (SELECT member_id, min(m) c FROM p GROUP BY 1),
s AS (SELECT c, count(*) size FROM f GROUP BY 1)
SELECT c, m - c, count(DISTINCT member_id), any_value(size),
  count(DISTINCT member_id) / any_value(size), sum(net)
FROM p JOIN f USING (member_id) JOIN s USING (c) GROUP BY c, m ORDER BY 1, 2""",
    "rfm": """
WITH per AS (SELECT member_id, max(epoch(placed_local)::BIGINT // 86400) last_day, count(*) f,
    sum(total_minor - refunded_minor) m FROM orders
  WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled') AND member_id IS NOT NULL
  AND placed_local >= DATE '2024-01-01' AND placed_local < DATE '2026-01-01' GROUP BY 1),
s AS (SELECT member_id, 1 + ((rank() OVER (ORDER BY last_day) - 1) * 5) // count(*) OVER () r,
   1 + ((rank() OVER (ORDER BY f) - 1) * 5) // count(*) OVER () fs,
   1 + ((rank() OVER (ORDER BY m) - 1) * 5) // count(*) OVER () ms, m FROM per)
SELECT r, (fs + ms) // 2 fm, count(*), sum(m) FROM s GROUP BY 1, 2 ORDER BY 1, 2""",
}


def ours(con: Any, scope: Scope) -> dict[str, Callable[[], Any]]:
    scores = rfm.rfm_scores(con, scope)
    return {
        "kpis": lambda: con.execute(metrics.kpis_by_period(con, scope)),
        "pareto": lambda: con.execute(metrics.pareto(con, scope)),
        "second_purchase": lambda: con.execute(metrics.second_purchase_times(con, scope)),
        "cohorts": lambda: con.execute(cohorts.cohort_matrix(con, scope)),
        "rfm": lambda: con.execute(rfm.rfm_grid(scores)),
    }


def best_of_alternating(
    ours_fn: Callable[[], Any], hand_fn: Callable[[], Any], runs: int = 3
) -> tuple[float, float]:
    """Best of ``runs`` for each side, alternating which side goes first in each round so
    neither always runs on caches the other warmed."""
    ours_t: list[float] = []
    hand_t: list[float] = []
    for i in range(runs):
        order = [(ours_fn, ours_t), (hand_fn, hand_t)]
        for fn, times in order if i % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return min(ours_t), min(hand_t)


def load(lines: int, folder: Path) -> duckdb.DuckDBPyConnection:
    """The synthetic shop in DuckDB: orders via Parquet, ~4 lines per order, program tables."""
    t = time.perf_counter()
    frames = generate(max(20, lines // 4), seed=1, customers=max(20, lines // 10))
    n_orders = len(frames["orders"])
    rng = np.random.default_rng(5)
    per_order = rng.integers(1, 8, n_orders)  # 1..7 lines, mean 4
    order_id = np.repeat(frames["orders"]["id"].to_numpy(), per_order)
    raw = duckdb.connect()
    raw.register("orders_df", frames.pop("orders"))
    raw.execute("CREATE TABLE orders AS SELECT * FROM orders_df")
    raw.unregister("orders_df")
    raw.execute(f"COPY orders TO '{folder / 'orders.parquet'}' (FORMAT parquet)")
    raw.execute("DROP TABLE orders")
    parquet = folder / "orders.parquet"
    raw.execute(f"CREATE TABLE orders AS SELECT * FROM read_parquet('{parquet}')")
    lines_df = {"order_id": order_id, "quantity": rng.integers(1, 4, len(order_id))}
    raw.register("lines_df", lines_df)
    raw.execute("CREATE TABLE order_lines AS SELECT 1 AS merchant_id, * FROM lines_df")
    raw.unregister("lines_df")
    for name, frame in frames.items():
        raw.register("f_df", frame)
        raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM f_df')
        raw.unregister("f_df")
    n_lines = raw.execute("SELECT count(*) FROM order_lines").fetchall()[0][0]
    n_c = len(frames["members"])
    took = time.perf_counter() - t
    print(
        f"generated {n_lines:,} order lines, {n_orders:,} orders, {n_c:,} customers ({took:.0f} s)"
    )
    return raw


def suite_bench(lines: int, folder: Path) -> None:
    raw = load(lines, folder)
    con = ibis.duckdb.from_connection(raw)
    scope = Scope(1, START, END, "month")
    every = {**HAND_SQL, **MORE_SQL}
    ours_s, hand_s = best_of_alternating(
        lambda: compute_suite(con, 1, START, END, "month"),
        lambda: [raw.execute(sql).df() for sql in every.values()],
    )
    print(
        "\n| metrics | Ibis on DuckDB (s) | hand-written DuckDB SQL (s) | ratio |"
        "\n|---|---|---|---|"
    )
    print(
        f"| **full suite** ({len(every)} hand queries) | {ours_s:.3f} | {hand_s:.3f} "
        f"| **{ours_s / hand_s:.2f}×** |"
    )
    mine = ours(con, scope)
    for name, sql in HAND_SQL.items():
        a, b = best_of_alternating(mine[name], lambda sql=sql: raw.execute(sql).df())
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f}× |")


def sync_bench(orders: int, folder: Path, url: str | None = None) -> None:
    """``url``: an empty PostgreSQL database to sync from instead of a new SQLite file."""
    engine = make_engine(url or f"sqlite:///{folder / 'oltp.db'}")
    upgrade(engine)
    at0 = datetime(2026, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(3)
    with engine.begin() as conn:
        conn.execute(
            insert(Merchant),
            [
                {
                    "id": 1,
                    "name": "B",
                    "slug": "b",
                    "currency": "CNY",
                    "timezone": "Asia/Shanghai",
                    "locale": "en",
                    "created_at": at0,
                }
            ],
        )
        n_m = max(10, orders // 10)
        conn.execute(
            insert(Member),
            [
                {
                    "id": i,
                    "merchant_id": 1,
                    "funnel_stage": "customer",
                    "created_at": at0,
                    "updated_at": at0,
                    "preferences": {},
                }
                for i in range(1, n_m + 1)
            ],
        )
    days = 30

    def add_orders(first: int, count: int, day: int) -> None:
        members = rng.integers(1, n_m + 1, count)
        rows = [
            {
                "id": first + i,
                "merchant_id": 1,
                "external_id": f"o{first + i}",
                "member_id": int(members[i]),
                "channel": "store",
                "status": "completed",
                "placed_at": at0 + timedelta(days=day, seconds=i % 80000),
                "currency": "CNY",
                "subtotal_minor": 1000,
                "discount_minor": 0,
                "total_minor": 1000,
                "refunded_minor": 0,
                "source": "bench",
                "request_hash": "h",
                "created_at": at0,
            }
            for i in range(count)
        ]
        with engine.begin() as conn:
            conn.execute(insert(Order), rows)

    per_day = orders // days
    for d in range(days):
        add_orders(1 + d * per_day, per_day, d)
    path = folder / "a.duckdb"
    with duckdb.connect(str(path)) as duck:
        sync(engine, duck)
    add_orders(1 + days * per_day, per_day, days)
    with duckdb.connect(str(path)) as duck:
        t = time.perf_counter()
        inc = sync(engine, duck)
        inc_s = time.perf_counter() - t
    with duckdb.connect(str(folder / "full.duckdb")) as duck:
        t = time.perf_counter()
        full = sync(engine, duck)
        full_s = time.perf_counter() - t
    kind = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
    print(f"\n| sync on {kind} | rows read | seconds |\n|---|---|---|")
    print(f"| incremental: one day's {per_day:,} orders | {inc.total:,} | {inc_s:.3f} |")
    print(f"| full re-extract ({per_day * (days + 1):,} orders) | {full.total:,} | {full_s:.3f} |")
    print(f"| ratio (full / incremental) | | {full_s / inc_s:.1f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=400_000, help="order lines (full: 10000000)")
    parser.add_argument("--sync-orders", type=int, default=30_000, help="orders in the SQLite db")
    parser.add_argument(
        "--sync-url", default=None, help="sync from this empty PostgreSQL database instead"
    )
    parser.add_argument("--sync-only", action="store_true", help="skip the metric suite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.sync_only:
            suite_bench(args.lines, Path(tmp))
        if args.sync_orders:
            sync_bench(args.sync_orders, Path(tmp), args.sync_url)


if __name__ == "__main__":
    main()
