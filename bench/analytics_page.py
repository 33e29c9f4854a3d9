"""Analytics page time against hand-written DuckDB SQL, on the same synced copy (ADR 0506).

    python -m bench.analytics_page [--orders 1500] [--rounds 3]

A generated shop (``bench.analytics_data``; 1,500 orders is the demo's size) is written as the
analytics copy (a DuckDB file, marked freshly synced so no sync runs), beside a SQLite database
holding the merchant and its owner. The page is requested through the app (sign-in, session,
templates, the page cache) with ``from=2024-01-01&to=2025-12-31``:

- **cold**: the page cache and the lifetime-fit cache emptied first — what the first view of a
  new filter costs (every figure computed: ~30 Ibis queries, the BG/NBD + Gamma-Gamma fit);
- **warm**: the same view again — what every later view of it costs, and what the views warmed
  after each sync cost (the default view included);

against the strongest baseline: every chart's figures as one hand-written DuckDB SQL query
(``bench/analytics.py`` + ``bench/analytics_sql.py``) on its own connection to the same file,
results fetched into pandas, plus the same lifetime fit. Best of ``--rounds`` each. Before
timing, a few figures of the baseline are checked against the page's own (same definitions).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
from fastapi.testclient import TestClient

from bench.analytics import HAND_SQL
from bench.analytics_data import generate
from bench.analytics_sql import MORE_SQL
from patron.analytics import page_cache
from patron.analytics.engines import load_tables
from patron.analytics.facts import Scope
from patron.analytics.lifetime import clear_cache, fit_lifetime, purchases_for_fit
from patron.analytics.store import read_copy
from patron.analytics.suite import compute_suite
from patron.analytics.sync import COMPLETE, STATE_TABLE
from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.tenancy import service as tenancy

WINDOW = "period=month&from=2024-01-01&to=2025-12-31"
START, END = date(2024, 1, 1), date(2026, 1, 1)
EMAIL, PASSWORD = "owner@bench.example", "bench pass 1"


def build(folder: Path, orders: int) -> tuple[Settings, str]:
    """The copy and the operational database; returns the app's settings and the copy's path."""
    path = str(folder / "analytics.duckdb")
    duck = duckdb.connect(path)
    load_tables(ibis.duckdb.from_connection(duck), generate(orders, seed=1))
    duck.execute(
        f"CREATE TABLE {STATE_TABLE} (table_name VARCHAR PRIMARY KEY, last_id BIGINT, "
        "last_ts TIMESTAMP, trigger_id BIGINT, synced_at TIMESTAMP)"
    )
    duck.execute(
        f"INSERT INTO {STATE_TABLE} VALUES (?, NULL, NULL, NULL, ?)",
        [COMPLETE, datetime.now(UTC).replace(tzinfo=None)],
    )
    duck.close()
    url = f"sqlite:///{folder / 'patron.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as s:
        merchant = tenancy.create_merchant(s, "Bench", "bench", "CNY", "UTC")
        assert merchant.id == 1  # the generated shop's merchant
        tenancy.create_staff_user(s, merchant.id, EMAIL, "Owner", "owner", PASSWORD)
    engine.dispose()
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="bench-secret-key-0123456789",
        analytics_path=path,
        analytics_max_age_minutes=1e9,  # the copy counts as fresh: no sync during the bench
        analytics_predict_daily=False,
        worker_in_process=False,
        log_json=False,
    )
    return settings, path


def sign_in(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def best(
    fn: Callable[[], Any], rounds: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Best wall-clock seconds and best CPU seconds (all threads of the process: DuckDB's
    included) of ``rounds`` runs; CPU is the steadier figure on a shared machine."""
    wall, cpu = [], []
    for _ in range(rounds):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def baseline(path: str) -> None:
    """Every chart's figures by hand, then the same lifetime fit."""
    duck = duckdb.connect(path)
    try:
        for sql in {**HAND_SQL, **MORE_SQL}.values():
            duck.execute(sql).df()
        tx = duck.execute(
            "SELECT id AS order_id, member_id, placed_local, total_minor - refunded_minor "
            "AS net_minor FROM orders WHERE merchant_id = 1 AND member_id IS NOT NULL AND "
            "status NOT IN ('refunded', 'cancelled') AND placed_local < DATE '2026-01-01'"
        ).df()
    finally:
        duck.close()
    fit_lifetime(tx, Scope(1, START, END))


def check_same_figures(path: str) -> None:
    """A few of the page's figures recomputed by the hand SQL: the baseline does the same work."""
    with read_copy(path) as con:
        suite = compute_suite(con, 1, START, END, "month")
        scope = Scope(1, START, END)
        tx = purchases_for_fit(con, scope)
    duck = duckdb.connect(path)
    try:
        comparison = duck.execute(MORE_SQL["comparison"]).fetchall()
        gaps = duck.execute(HAND_SQL["second_purchase"]).fetchall()
    finally:
        duck.close()
    mine = suite["comparison"]
    for row, (_k, orders, customers, revenue, *_rest) in zip(
        mine.itertuples(), comparison, strict=True
    ):
        assert (row.orders, row.customers, row.net_revenue_minor) == (orders, customers, revenue)
    km = suite["time_to_second_purchase"]
    assert km["second_purchases"].sum() == sum(g[1] for g in gaps)
    assert km["censored"].sum() == sum(g[2] for g in gaps)
    assert len(tx) > 0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {cpu}, load average {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1500, help="order rows (demo: 1,500)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings, path = build(Path(tmp), args.orders)
        check_same_figures(path)
        app = create_app(settings, run_worker=False)
        with TestClient(app) as client:
            sign_in(client)

            def page() -> None:
                r = client.get(f"/analytics?{WINDOW}")
                assert r.status_code == 200 and 'id="fig-retention"' in r.text, r.text[:500]

            def empty_caches() -> None:
                page_cache.clear()
                clear_cache()

            page()  # templates, first connection
            cold = best(page, args.rounds, empty_caches)
            page()
            warm = best(page, args.rounds)
            csv = best(lambda: client.get(f"/analytics/p_alive.csv?{WINDOW}"), args.rounds)
        hand = best(lambda: baseline(path), args.rounds)
    print(f"\n{date.today()} · {machine()} · {args.orders:,} orders, best of {args.rounds}\n")
    print(
        "| analytics page, synced copy | wall s | × hand | CPU s | × hand |\n|---|---|---|---|---|"
    )
    rows = [
        ("hand-written DuckDB SQL, one query per chart + the same fit", hand),
        ("page, cold (first view of a filter: every figure computed)", cold),
        ("page, warm (cached per copy version; warmed after each sync)", warm),
        ("a chart's CSV, warm", csv),
    ]
    for name, (w, c) in rows:
        print(f"| {name} | {w:.3f} | {w / hand[0]:.2f}× | {c:.3f} | {c / hand[1]:.2f}× |")


if __name__ == "__main__":
    main()
