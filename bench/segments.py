"""Segment evaluation benchmark: count (live preview) and materialise, beside hand-written SQL.

    python -m bench.segments [--members N] [--pg URL] [--no-sqlite]

N members (default 50,000; the acceptance size is 1,000,000) with orders, order lines, tags and
consents are filled with raw multi-row inserts; then for three realistic rule sets we time
``segments.service.preview`` (the live count) and ``create_segment`` (materialise into
``segment_members``) against the equivalent hand-written ``SELECT count(*)`` and
``INSERT … SELECT`` run directly on the same database. SQLite in a temporary file always;
PostgreSQL too with ``--pg`` (a scratch database ``patron_bench_segments`` is made).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, make_url, select, text

from patron.core.clock import FrozenClock
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.engagement.segments import service
from patron.engagement.segments.models import Segment, SegmentMember
from patron.members.models import Member, MemberConsent, MemberTag
from patron.orders.models import Order, OrderLine
from patron.tenancy import service as tenancy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHUNK = 5_000
CATEGORIES = ("tea", "teaware", "snacks", "gifts", "coffee")

RULES: dict[str, dict[str, Any]] = {
    "VIP tag AND spent > 2,000.00": {
        "all": [
            {"field": "tag", "op": "has", "value": "vip"},
            {"field": "total_spent_minor", "op": "gt", "value": 200_000},
        ]
    },
    "sleeping: ≥1 order AND none for 90 days": {
        "all": [
            {"field": "orders_count", "op": "gte", "value": 1},
            {"field": "no_order_for_days", "op": "gte", "value": 90},
        ]
    },
    "bought tea in 30 days AND email consent": {
        "all": [
            {
                "field": "bought_category",
                "op": "within_days",
                "value": {"category": "tea", "days": 30},
            },
            {"field": "consent", "op": "granted", "value": {"channel": "email", "topic": "promo"}},
        ]
    },
}

# The same questions, written by hand. {m} = merchant id; cutoffs are bound parameters.
HAND_WHERE = {
    "VIP tag AND spent > 2,000.00": (
        "FROM members m JOIN member_tags t ON t.member_id = m.id AND t.merchant_id = :m "
        "AND t.tag = 'vip' WHERE m.merchant_id = :m AND m.merged_into_id IS NULL "
        "AND m.total_spent_minor > 200000"
    ),
    "sleeping: ≥1 order AND none for 90 days": (
        "FROM members m WHERE m.merchant_id = :m AND m.merged_into_id IS NULL "
        "AND m.orders_count >= 1 AND (m.last_order_at IS NULL OR m.last_order_at < :d90)"
    ),
    "bought tea in 30 days AND email consent": (
        "FROM members m JOIN member_consents c ON c.member_id = m.id AND c.merchant_id = :m "
        "AND c.channel = 'email' AND c.topic = 'promo' AND c.granted "
        "WHERE m.merchant_id = :m AND m.merged_into_id IS NULL AND m.id IN ("
        "SELECT o.member_id FROM orders o JOIN order_lines l ON l.order_id = o.id "
        "WHERE o.merchant_id = :m AND o.placed_at >= :d30 "
        "AND o.status IN ('completed', 'partially_refunded') AND l.category = 'tea')"
    ),
}


def _chunks(rows: list[dict[str, Any]]) -> Any:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _member_rows(merchant_id: int, n: int, rng: random.Random) -> tuple[list[Any], list[Any]]:
    """Members with their purchase summary, and their orders (one line each) to insert."""
    members, orders = [], []
    for i in range(n):
        count = rng.choice((0, 0, 1, 1, 2, 3, 5))
        placed = sorted(NOW - timedelta(days=rng.uniform(0, 720)) for _ in range(count))
        totals = [rng.randrange(2_000, 120_000) for _ in range(count)]
        members.append(
            {
                "merchant_id": merchant_id,
                "first_name": f"M{i}",
                "email": f"m{i}@example.com",
                "preferences": {},
                "orders_count": count,
                "total_spent_minor": sum(totals),
                "first_order_at": placed[0] if placed else None,
                "last_order_at": placed[-1] if placed else None,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
        orders.extend(
            (i, at, total, rng.choice(CATEGORIES)) for at, total in zip(placed, totals, strict=True)
        )
    return members, orders


def fill(engine: Engine, n: int) -> int:
    """One merchant with ``n`` members, ~1.7 orders each, 10% tagged vip, 50% email consent."""
    rng = random.Random(7)
    sessions = make_session_factory(engine, FrozenClock(NOW))
    with transaction(sessions) as s:
        merchant_id = tenancy.create_merchant(s, "Bench", "bench-seg", "CNY", "UTC", "en").id
    members, orders = _member_rows(merchant_id, n, rng)
    with engine.begin() as conn:
        for chunk in _chunks(members):
            conn.execute(insert(Member), chunk)
        ids = list(
            conn.scalars(
                select(Member.id).where(Member.merchant_id == merchant_id).order_by(Member.id)
            )
        )
        tags = [
            {"merchant_id": merchant_id, "member_id": m, "tag": "vip", "created_at": NOW}
            for i, m in enumerate(ids)
            if i % 10 == 0
        ]
        consents = [
            {
                "merchant_id": merchant_id,
                "member_id": m,
                "channel": "email",
                "topic": "promo",
                "granted": True,
                "source": "bench",
                "changed_at": NOW,
            }
            for i, m in enumerate(ids)
            if i % 2 == 0
        ]
        order_rows = [
            {
                "merchant_id": merchant_id,
                "external_id": f"o{k}",
                "member_id": ids[i],
                "channel": "pos",
                "status": "completed",
                "placed_at": at,
                "currency": "CNY",
                "subtotal_minor": total,
                "discount_minor": 0,
                "total_minor": total,
                "refunded_minor": 0,
                "source": "bench",
                "request_hash": "x",
                "created_at": at,
            }
            for k, (i, at, total, _cat) in enumerate(orders)
        ]
        for model, rows in ((MemberTag, tags), (MemberConsent, consents), (Order, order_rows)):
            for chunk in _chunks(rows):
                conn.execute(insert(model), chunk)
        order_ids = list(
            conn.scalars(
                select(Order.id).where(Order.merchant_id == merchant_id).order_by(Order.id)
            )
        )
        lines = [
            {
                "merchant_id": merchant_id,
                "order_id": oid,
                "line_no": 1,
                "sku": f"{cat}-1",
                "name": cat,
                "category": cat,
                "quantity": 1,
                "unit_price_minor": total,
                "discount_minor": 0,
                "total_minor": total,
                "paid_minor": total,
                "refunded_quantity": 0,
                "refunded_minor": 0,
            }
            for oid, (_i, _at, total, cat) in zip(order_ids, orders, strict=True)
        ]
        for chunk in _chunks(lines):
            conn.execute(insert(OrderLine), chunk)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return merchant_id


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run(engine: Engine, n: int, rounds: int) -> list[tuple[str, str, float, float, int]]:
    """(rule set, measure, ours s, hand-written s, rows) for count and materialise."""
    started = time.perf_counter()
    merchant_id = fill(engine, n)
    print(f"filled {n:,} members on {engine.dialect.name} in {time.perf_counter() - started:.0f} s")
    results = []
    for index, name in enumerate(RULES):
        results.extend(measure(engine, merchant_id, name, f"s{index}", rounds))
    return results


def measure(
    engine: Engine, merchant_id: int, name: str, segment_name: str, rounds: int = 5
) -> list[tuple[str, str, float, float, int]]:
    """Count and materialise one rule set, ours and by hand, on the same data: one untimed run
    of each side first (the database's cache warm for both), then ``rounds`` timed rounds whose
    order alternates (ours first in even rounds, hand-written first in odd ones); the medians."""
    rules, where = RULES[name], HAND_WHERE[name]
    sessions = make_session_factory(engine, FrozenClock(NOW))
    params = {"m": merchant_id, "d90": NOW - timedelta(days=90), "d30": NOW - timedelta(days=30)}
    sql = (
        "INSERT INTO segment_members (merchant_id, segment_id, member_id, entered_at) "
        f"SELECT :m, :seg, m.id, :now {where}"
    )
    with transaction(sessions) as s:
        # the hand-written side inserts under this segment's id; its rows go after each round
        segment_id = service.create_segment(s, merchant_id, segment_name, rules).id

    def clear(segment: int, drop: bool = False) -> None:
        with transaction(sessions) as s:
            s.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment))
            if drop:
                s.execute(delete(Segment).where(Segment.id == segment))

    def ours_count() -> int:
        with sessions() as s:
            return int(service.preview(s, merchant_id, rules, sample=10)["count"])

    def hand_count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) {where}"), params).scalar() or 0)

    def ours_made(i: int) -> tuple[float, int]:
        started = time.perf_counter()
        with transaction(sessions) as s:
            made_id = service.create_segment(s, merchant_id, f"{segment_name}-{i}", rules).id
        took = time.perf_counter() - started
        count = _segment_size(engine, made_id)
        clear(made_id, drop=True)
        return took, count

    def hand_made(_i: int) -> tuple[float, int]:
        started = time.perf_counter()
        with engine.begin() as conn:
            done = conn.execute(text(sql), {**params, "seg": segment_id, "now": NOW})
        took = time.perf_counter() - started
        clear(segment_id)
        return took, int(done.rowcount)

    clear(segment_id)
    times: dict[str, list[float]] = {"oc": [], "hc": [], "om": [], "hm": []}
    counts: dict[str, int] = {}
    for i in range(-1, rounds):  # round -1 warms the cache for both sides, untimed
        sides = [("oc", ours_count), ("hc", hand_count)]
        made = [("om", ours_made), ("hm", hand_made)]
        if i % 2:
            sides.reverse()
            made.reverse()
        for key, fn in sides:
            took, counts[key] = _timed(fn)
            if i >= 0:
                times[key].append(took)
        for key, made_fn in made:
            took, counts[key] = made_fn(i)
            if i >= 0:
                times[key].append(took)
    assert counts["oc"] == counts["hc"] == counts["om"] == counts["hm"], (name, counts)
    clear(segment_id, drop=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return [
        (name, "count", med["oc"], med["hc"], counts["hc"]),
        (name, "materialise", med["om"], med["hm"], counts["hm"]),
    ]


def _segment_size(engine: Engine, segment_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM segment_members WHERE segment_id = :s"),
                {"s": segment_id},
            ).scalar()
            or 0
        )


def explain(engine: Engine, merchant_id: int, rules: dict[str, Any]) -> str:
    """The query plan of our compiled count (for looking into a slow rule)."""
    sessions = make_session_factory(engine, FrozenClock(NOW))
    with sessions() as s:
        condition, _ = service.compile_segment(s, merchant_id, rules)
        query = select(Member.id).where(Member.merchant_id == merchant_id, condition)
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        return "\n".join(str(r) for r in s.execute(text(prefix + sql)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", "--size", type=int, default=50_000)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a scratch db is made)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side (medians)")
    args = parser.parse_args()
    targets: list[tuple[str, Engine]] = []
    tmp = tempfile.TemporaryDirectory()
    if not args.no_sqlite:
        targets.append(("SQLite", make_engine(f"sqlite:///{tmp.name}/bench.db")))
    if args.pg:
        admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS patron_bench_segments"))
            conn.execute(text("CREATE DATABASE patron_bench_segments"))
        url = make_url(args.pg).set(database="patron_bench_segments")
        targets.append(("PostgreSQL", make_engine(url.render_as_string(hide_password=False))))
    rows = []
    for label, engine in targets:
        upgrade(engine)
        rows.extend((label, *r) for r in run(engine, args.members, args.rounds))
        engine.dispose()
    print(
        f"\n## Segments ({args.members:,} members, median of {args.rounds} alternating "
        "rounds after a warm-up)\n"
    )
    print("| database | rule set | measure | members | ours (s) | hand SQL (s) | ours / hand |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for label, name, measure, ours, hand, count in rows:
        print(
            f"| {label} | {name} | {measure} | {count:,} | {ours:.3f} | {hand:.3f} | "
            f"{ours / hand if hand else float('nan'):.2f} |"
        )


if __name__ == "__main__":
    main()
