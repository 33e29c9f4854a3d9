"""The soak's verdicts (see bench/soak.py): each check returns ``{"ok": bool, "detail": str}``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, create_engine, text

if TYPE_CHECKING:
    from tests.engagement.providers import SmtpSink

    from bench.soak import Traffic
    from bench.soak_shop import Processes, Shop, WebhookReceiver

Check = dict[str, Any]
SENT_MESSAGES = ("sent", "delivered", "read")
# Memory is flat when the last third's mean RSS is within this of the middle third's: either
# under 10% more, or under 20 MB more (see docs/benchmarks.md, "Soak", for why both).
GROWTH_SHARE = 0.10
GROWTH_MB = 20.0


def _url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _backlog(conn: Connection, merchant_id: int) -> dict[str, int]:
    """What the worker still has to do (all zero once it has caught up)."""
    one = {"m": merchant_id}
    return {
        "events not fanned out": conn.scalar(
            text("SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL")
        ),
        "deliveries pending": conn.scalar(
            text("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
        ),
        "messages open": conn.scalar(
            text(
                "SELECT count(*) FROM messages WHERE merchant_id = :m "
                "AND status IN ('queued', 'sending', 'unknown')"
            ),
            one,
        ),
        "campaigns releasing": conn.scalar(
            text(
                "SELECT count(*) FROM campaigns WHERE merchant_id = :m "
                "AND status IN ('scheduled', 'sending')"
            ),
            one,
        ),
        # A consumer of the outbox is behind while an event sorts after its cursor.
        "consumers behind": conn.scalar(
            text(
                "SELECT count(*) FROM outbox_cursors c WHERE EXISTS (SELECT 1 FROM outbox_events e "
                "WHERE (e.tx_id, e.id) > (c.last_tx_id, c.last_event_id))"
            )
        ),
    }


def settle(url: str, merchant_id: int, timeout: float) -> Check:
    """Wait until the worker has nothing left to do (or ``timeout`` seconds)."""
    engine = create_engine(_url(url))
    began = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                backlog = _backlog(conn, merchant_id)
            if not any(backlog.values()) or time.monotonic() - began > timeout:
                break
            print(f"soak: settling {backlog}", file=sys.stderr, flush=True)
            time.sleep(2)
    finally:
        engine.dispose()
    waited = time.monotonic() - began
    return {"ok": not any(backlog.values()), "detail": f"{backlog} after {waited:.0f} s"}


def verify(procs: Processes) -> Check:
    """`patron verify` on the soak's database: exit 0 and no drift."""
    patron = str(Path(sys.executable).with_name("patron"))
    done = subprocess.run(
        [patron, "verify"], env=procs.env(), capture_output=True, text=True, check=False
    )
    out = (done.stdout + done.stderr).strip().splitlines()
    return {"ok": done.returncode == 0, "detail": out[-1] if out else f"exit {done.returncode}"}


def purchases(conn: Connection, shop: Shop, traffic: Traffic) -> Check:
    """Every acknowledged purchase exists exactly once, with the order id it was acknowledged
    with; no key (acknowledged or not) made two orders; no order without a key we sent."""
    rows = conn.execute(
        text(
            "SELECT external_id, id FROM orders WHERE merchant_id = :m "
            "AND external_id LIKE 'checkout-soak-%'"
        ),
        {"m": shop.merchant_id},
    ).all()
    orders: dict[str, list[int]] = {}
    for external_id, order_id in rows:
        orders.setdefault(external_id.removeprefix("checkout-"), []).append(order_id)
    missing = [k for k, o in traffic.purchases.items() if orders.get(k) != [o]]
    doubled = [k for k, ids in orders.items() if len(ids) > 1]
    strange = [k for k in orders if k not in traffic.attempted]
    unacknowledged = len([k for k in orders if k not in traffic.purchases])
    ok = not missing and not doubled and not strange and len(traffic.purchases) > 0
    return {
        "ok": ok,
        "detail": f"{len(traffic.purchases)} acknowledged, {len(rows)} checkout orders, "
        f"missing or different {missing[:5]}, doubled {doubled[:5]}, unknown keys "
        f"{strange[:5]}, committed but never acknowledged {unacknowledged}",
    }


def messages(conn: Connection, shop: Shop, traffic: Traffic, smtp: SmtpSink) -> Check:
    """The campaign reached every member once: its messages are all settled, and the SMTP
    server received exactly the sent ones (as distinct Message-IDs). A copy of a Message-ID is
    reported, not failed: the send in flight when the worker was killed may have reached the
    server before its outcome was recorded, and is resent with the same Message-ID, by which
    mail systems drop the copy (ADR 0402)."""
    by_status = dict(
        conn.execute(
            text(
                "SELECT status, count(*) FROM messages WHERE merchant_id = :m "
                "AND dedupe_key LIKE :k GROUP BY status"
            ),
            {"m": shop.merchant_id, "k": f"campaign:{traffic.campaign_id}:%"},
        ).all()
    )
    sent = sum(n for s, n in by_status.items() if s in SENT_MESSAGES)
    with smtp.lock:
        received = len(smtp.by_message_id)
        twice = sum(1 for n in smtp.by_message_id.values() if n > 1)
    ok = (
        traffic.campaign_id is not None
        and sum(by_status.values()) == len(shop.members)
        and sent == received
    )
    return {
        "ok": ok,
        "detail": f"campaign {traffic.campaign_id}: messages {by_status}, SMTP received "
        f"{received} distinct, {twice} more than once",
    }


def webhooks(conn: Connection, shop: Shop, receiver: WebhookReceiver) -> Check:
    """Every event has exactly one delivery to the endpoint, succeeded, and the receiver got
    its webhook-id (more than once is allowed: a killed worker's lease is sent again)."""
    events = conn.scalar(
        text("SELECT count(*) FROM outbox_events WHERE merchant_id = :m"), {"m": shop.merchant_id}
    )
    rows = conn.execute(
        text(
            "SELECT d.event_id, d.status, d.message_id FROM webhook_deliveries d "
            "WHERE d.merchant_id = :m AND d.replay_of_id IS NULL"
        ),
        {"m": shop.merchant_id},
    ).all()
    per_event: dict[int, int] = {}
    for event_id, _status, _message_id in rows:
        per_event[event_id] = per_event.get(event_id, 0) + 1
    not_succeeded = sum(1 for r in rows if r.status != "succeeded")
    with receiver.lock:
        unseen = sum(1 for r in rows if r.message_id not in receiver.by_message_id)
        again = sum(n - 1 for n in receiver.by_message_id.values() if n > 1)
        types = dict(receiver.types)
    ok = events == len(per_event) == len(rows) and not not_succeeded and not unseen and bool(events)
    return {
        "ok": ok,
        "detail": f"{events} events, {len(rows)} deliveries, {not_succeeded} not succeeded, "
        f"{unseen} never received, {again} received again; by type {types}",
    }


def memory_flat(samples: dict[str, list[float]]) -> Check:
    """Flat when, for the server and for the worker that ran to the end, the mean RSS of the
    last third of the samples exceeds the middle third's by under 10% or under 20 MB. The
    first third is warm-up (modules loaded on first use, pools and caches filling)."""
    verdicts = []
    ok = True
    last_worker = max((k for k in samples if k.startswith("worker-")), default=None)
    for name in ("server", last_worker):
        series = samples.get(name or "", [])
        if len(series) < 6:
            ok = False
            verdicts.append(f"{name}: only {len(series)} samples")
            continue
        third = len(series) // 3
        middle, last = mean(series[third : 2 * third]), mean(series[-third:])
        grown = last - middle
        flat = grown < GROWTH_MB or grown < GROWTH_SHARE * middle
        ok = ok and flat
        verdicts.append(
            f"{name}: {middle:.1f} -> {last:.1f} MB ({grown:+.1f} MB, {grown / middle:+.1%})"
        )
    return {"ok": ok, "detail": "; ".join(verdicts)}


def check_all(
    procs: Processes,
    shop: Shop,
    traffic: Traffic,
    smtp: SmtpSink,
    receiver: WebhookReceiver,
    settled: Check,
) -> dict[str, Check]:
    """Every check but memory's, after the worker has settled."""
    checks = {"settled": settled, "verify": verify(procs)}
    engine = create_engine(_url(shop.url))
    try:
        with engine.connect() as conn:
            checks["purchases"] = purchases(conn, shop, traffic)
            checks["messages"] = messages(conn, shop, traffic, smtp)
            checks["webhooks"] = webhooks(conn, shop, receiver)
    finally:
        engine.dispose()
    checks["answers"] = {
        "ok": not any(s.endswith(" 500") for s in traffic.statuses) and not traffic.unexpected,
        "detail": f"statuses {dict(traffic.statuses)}; unexpected {traffic.unexpected[:3]}",
    }
    return checks
