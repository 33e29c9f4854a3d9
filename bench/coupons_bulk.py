"""Bulk coupon issue: N members get one coupon each through ``issue_bulk`` (limits checked,
codes generated, one outbox event per code), beside the raw inserts of the same rows.

    python -m bench.coupons_bulk [--size N] [--pg URL]

SQLite in a temporary file always; PostgreSQL too with ``--pg`` (a scratch database is made).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from patron import models  # noqa: F401  (every table in the metadata)
from patron.core.clock import FrozenClock
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.events import OutboxEvent
from patron.core.migrate import upgrade
from patron.coupons import service
from patron.coupons.models import CouponCode
from patron.coupons.schemas import TemplateIn
from patron.members.models import Member
from patron.tenancy import service as tenancy

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _setup(engine: Engine, size: int) -> tuple[int, list[int], int]:
    upgrade(engine)
    sessions = make_session_factory(engine, FrozenClock(NOW))
    with transaction(sessions) as s:
        m = tenancy.create_merchant(s, "Bench", f"bench{time.time_ns()}", "CNY", "UTC", "en")
        rows = [
            {
                "merchant_id": m.id,
                "funnel_stage": "member",
                "created_at": NOW,
                "updated_at": NOW,
                "registered_at": NOW,
            }
            for _ in range(size)
        ]
        s.execute(insert(Member), rows)
        ids = list(s.scalars(text("SELECT id FROM members WHERE merchant_id = :m"), {"m": m.id}))
        tids = [
            service.create_template(
                s,
                m.id,
                TemplateIn(
                    name=f"t{i}",
                    kind="amount_off",
                    amount_off_minor=500,
                    valid_days=30,
                    per_member_limit=1,
                    total_limit=size,
                ),
            ).id
            for i in range(2)
        ]
        return m.id, ids, tids[0] * 1_000_000 + tids[1]


def run(engine: Engine, size: int) -> tuple[float, float]:
    mid, members, packed = _setup(engine, size)
    ours_tid, raw_tid = divmod(packed, 1_000_000)
    sessions = make_session_factory(engine, FrozenClock(NOW))
    start = time.perf_counter()
    with transaction(sessions) as s:
        issued, _ = service.issue_bulk(s, mid, ours_tid, members)
    ours = time.perf_counter() - start
    assert issued == size
    start = time.perf_counter()
    with transaction(sessions) as s:  # the same rows, no checks, no code generation logic
        s.execute(
            text("UPDATE coupon_templates SET issued_count = :n WHERE id = :t"),
            {"n": size, "t": raw_tid},
        )
        rows = [
            {
                "merchant_id": mid,
                "template_id": raw_tid,
                "code": f"RAW{i:09d}",
                "member_id": mm,
                "status": "issued",
                "source": "bulk",
                "issued_at": NOW,
                "expires_at": NOW,
            }
            for i, mm in enumerate(members)
        ]
        events = [
            {
                "merchant_id": mid,
                "type": "coupon.issued",
                "subject_id": r["member_id"],
                "payload": {"code": r["code"], "template_id": raw_tid},
                "occurred_at": NOW,
            }
            for r in rows
        ]
        for i in range(0, size, 5000):
            s.execute(insert(CouponCode), rows[i : i + 5000])
            s.execute(insert(OutboxEvent), events[i : i + 5000])
    raw = time.perf_counter() - start
    return ours, raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a scratch db is made)")
    args = parser.parse_args()
    targets: list[tuple[str, Engine]] = []
    tmp = tempfile.TemporaryDirectory()
    targets.append(("SQLite", make_engine(f"sqlite:///{tmp.name}/bench.db")))
    if args.pg:
        admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS patron_bench_coupons"))
            conn.execute(text("CREATE DATABASE patron_bench_coupons"))
        url = make_url(args.pg).set(database="patron_bench_coupons")
        targets.append(("PostgreSQL", make_engine(url.render_as_string(hide_password=False))))
    print("| database | coupons issued | issue_bulk s | raw inserts s | ratio (raw/ours) |")
    print("| --- | --- | --- | --- | --- |")
    for name, engine in targets:
        ours, raw = run(engine, args.size)
        print(f"| {name} | {args.size:,} | {ours:.2f} | {raw:.2f} | {raw / ours:.0%} |")
        engine.dispose()


if __name__ == "__main__":
    main()
