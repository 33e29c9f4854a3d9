"""Soak: mixed traffic against `patron serve` + `patron worker` on PostgreSQL, with the worker
SIGKILLed and restarted half-way; then every promise is checked.

    python -m bench.soak [--minutes 30] [--clients 4] [--members 300] [--serve-workers 1]
                         [--pg URL] [--json FILE]

A fresh, uniquely named PostgreSQL database (dropped at the end) is migrated and seeded
(bench/soak_shop.py): a merchant with points and stored value with a top-up bonus, a store, two
products, a clerk and an owner API key, an email channel pointed at a local aiosmtpd server and
a webhook endpoint (every event) pointed at a local receiver. `patron serve` runs without its
in-process worker; one `patron worker` process does the background work.

For ``--minutes``, ``--clients`` threads act as tills (think time 0.1-0.3 s): checkouts with an
``Idempotency-Key`` (some paying with points or stored value), refunds of their own purchases,
top-ups, reads. A client behaves as a real one: a 503 or 429 is retried after ``Retry-After``,
a timeout or a dropped connection is retried with the same key. Beside them, a small customers
and orders CSV import every few minutes; at 40% of the time one email campaign to every member
is launched; at 50% the worker is SIGKILLed and a new one started.

At the end, after the worker has drained everything: ``patron verify`` is clean; every
acknowledged purchase exists exactly once (its order id as acknowledged) and no key made two
orders; every message is settled and the SMTP server received exactly the sent rows, once each;
every event has one succeeded delivery to the endpoint and the receiver saw each webhook-id;
server and worker memory is flat (see ``memory_flat``). Prints a JSON report and a summary;
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.engagement.providers import SmtpSink, free_port

from bench.soak_checks import check_all, memory_flat, settle
from bench.soak_shop import (
    Processes,
    Shop,
    WebhookReceiver,
    create_database,
    drop_database,
    rss_bytes,
    seed,
)

PG = os.environ.get("PATRON_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CART = [{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}]
CLIENT_TIMEOUT = 30.0
MAX_TRIES = 20
# Business refusals that concurrent tills cause by design: two pay with "max" points of the
# same member at once, and the second finds them spent (no overspend: invariant 3).
EXPECTED_REFUSALS = frozenset({"insufficient_balance"})


@dataclass
class Traffic:
    """What the clients did and what the server acknowledged (shared by the client threads)."""

    run: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    purchases: dict[str, int] = field(default_factory=dict)  # acknowledged key -> order id
    attempted: set[str] = field(default_factory=set)  # every checkout key sent
    refunds: int = 0
    top_ups: int = 0
    imports: int = 0
    campaign_id: int | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def note(self, what: str, status: str, seconds: float | None = None) -> None:
        with self.lock:
            self.statuses[f"{what} {status}"] += 1
            if seconds is not None:
                self.latencies.append(seconds)


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def call(
    client: httpx.Client, traffic: Traffic, what: str, method: str, path: str, **kw: Any
) -> httpx.Response | None:
    """One request as a careful client sends it: the same request again (same key) after a
    timeout or a dropped connection, after ``Retry-After`` on 503 and 429."""
    for _ in range(MAX_TRIES):
        began = time.monotonic()
        try:
            response = client.request(method, path, **kw)
        except httpx.TimeoutException:
            traffic.note(what, "timeout")
            continue
        except httpx.TransportError:
            traffic.note(what, "connection error")
            time.sleep(0.5)
            continue
        traffic.note(what, str(response.status_code), time.monotonic() - began)
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("retry-after", "1") or 1))
            continue
        if response.status_code >= 400 and _code(response) not in EXPECTED_REFUSALS:
            with traffic.lock:
                if len(traffic.unexpected) < 50:
                    traffic.unexpected.append(f"{what}: {response.status_code} {response.text}")
        return response
    with traffic.lock:
        traffic.unexpected.append(f"{what}: gave up after {MAX_TRIES} tries")
    return None


def till(
    shop: Shop, base: str, traffic: Traffic, number: int, until: float, stop: threading.Event
) -> None:
    """One till's loop until ``until`` (or ``stop``): checkouts, refunds, top-ups and reads."""
    rng = random.Random(number)
    mine: list[int] = []  # this till's purchases not refunded yet
    headers = {"Authorization": f"Bearer {shop.clerk_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        n = 0
        while time.monotonic() < until and not stop.is_set():
            n += 1
            member = rng.choice(shop.members)
            roll = rng.random()
            if roll < 0.6 or not mine:
                key = f"soak-{traffic.run}-{number}-{n}"
                body: dict[str, Any] = {"member_id": member, "store_code": "S1", "lines": CART}
                pay = rng.random()
                if pay < 0.25:
                    body["points"] = "max"
                elif pay < 0.5:
                    body["stored_value"] = "max"
                with traffic.lock:
                    traffic.attempted.add(key)
                got = call(
                    client,
                    traffic,
                    "checkout",
                    "POST",
                    "/api/v1/checkout/commit",
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                if got is not None and got.status_code in (200, 201):
                    order_id = int(got.json()["order_id"])
                    with traffic.lock:
                        traffic.purchases[key] = order_id
                    mine.append(order_id)
            elif roll < 0.72:
                order_id = mine.pop(rng.randrange(len(mine)))
                got = call(
                    client,
                    traffic,
                    "refund",
                    "POST",
                    f"/api/v1/orders/{order_id}/refunds",
                    json={"external_id": f"refund-{traffic.run}-{order_id}"},
                )
                if got is not None and got.status_code in (200, 201):
                    with traffic.lock:
                        traffic.refunds += 1
            elif roll < 0.87:
                got = call(
                    client,
                    traffic,
                    "top-up",
                    "POST",
                    f"/api/v1/members/{member}/top-ups",
                    json={"amount_minor": 10000},
                    headers={"Idempotency-Key": f"top-{traffic.run}-{number}-{n}"},
                )
                if got is not None and got.status_code in (200, 201):
                    with traffic.lock:
                        traffic.top_ups += 1
            else:
                call(client, traffic, "read", "GET", f"/api/v1/members/{member}/orders?limit=5")
            time.sleep(rng.uniform(0.1, 0.3))


def importer(shop: Shop, base: str, traffic: Traffic, every: float, stop: threading.Event) -> None:
    """A small customers CSV and a small orders CSV every ``every`` seconds."""
    headers = {"Authorization": f"Bearer {shop.owner_key}"}
    batch = 0
    with httpx.Client(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        while not stop.wait(every if batch else 5):
            batch += 1
            people = "\n".join(
                f"imp-{batch}-{i},Imp{i},imp{batch}x{i}@example.com,,yes" for i in range(20)
            )
            customers = f"external_id,first_name,email,phone,accepts_email\n{people}\n"
            orders = (
                "order_id,placed_at,member_id,store_code,sku,name,quantity,unit_price\n"
                + "".join(
                    f"IMP-{traffic.run}-{batch}-{i},2026-12-01T10:00:00+08:00,imp-{batch}-{i},S1,"
                    f"TEA-1,Green tea,1,128.10\n"
                    for i in range(5)
                )
            )
            ok = True
            for kind, text in (("customers", customers), ("orders", orders)):
                got = call(
                    client,
                    traffic,
                    f"import {kind}",
                    "POST",
                    f"/api/v1/imports/{kind}?format=generic",
                    files={"file": (f"{kind}.csv", text.encode(), "text/csv")},
                )
                ok = ok and got is not None and got.status_code == 200
                if got is not None and got.status_code == 200 and got.json()["rejected"]:
                    with traffic.lock:
                        traffic.unexpected.append(f"import {kind}: {got.json()['rejects']}")
            if ok:
                with traffic.lock:
                    traffic.imports += 1


def launch_campaign(shop: Shop, base: str, traffic: Traffic) -> None:
    """One email campaign to every seeded member, launched now."""
    headers = {"Authorization": f"Bearer {shop.owner_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        body = {
            "name": "Spring tea",
            "member_ids": shop.members,
            "channel": "email",
            "template_id": shop.template_id,
            "topic": "marketing",
        }
        got = call(client, traffic, "campaign", "POST", "/api/v1/campaigns", json=body)
        if got is None or got.status_code != 201:
            return
        campaign_id = int(got.json()["id"])
        launched = call(
            client, traffic, "campaign", "POST", f"/api/v1/campaigns/{campaign_id}/launch", json={}
        )
        if launched is not None and launched.status_code == 200:
            traffic.campaign_id = campaign_id


def sample_memory(
    procs: Processes,
    traffic: Traffic,
    every: float,
    stop: threading.Event,
    samples: dict[str, list[float]],
) -> None:
    """RSS of the server (all its processes) and of the current worker, in MB, every ``every``
    seconds. The worker's samples restart with each new worker (its memory starts afresh)."""
    began = time.monotonic()
    while not stop.wait(every):
        assert procs.server is not None
        for key, pid in (
            ("server", procs.server.pid),
            (f"worker-{len(procs.workers)}", procs.workers[-1].pid),
        ):
            rss = rss_bytes(pid) / 2**20
            if rss:  # 0: the process has just been killed
                samples.setdefault(key, []).append(rss)
        print(
            f"soak: {time.monotonic() - began:.0f} s, {len(traffic.purchases)} purchases, "
            f"RSS {', '.join(f'{k} {v[-1]:.0f} MB' for k, v in samples.items() if v)}",
            file=sys.stderr,
            flush=True,
        )


def soak(minutes: float, clients: int, members: int, serve_workers: int, pg: str) -> dict[str, Any]:
    """Run the soak; return the report (``report["ok"]`` is the verdict)."""
    seconds = minutes * 60
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load_at_start = os.getloadavg()[0]
    url = create_database(pg)
    log_dir = Path(tempfile.mkdtemp(prefix="patron-soak-"))
    receiver = WebhookReceiver()
    traffic = Traffic(run=url.rsplit("_", 1)[1])
    samples: dict[str, list[float]] = {"server": []}
    procs = Processes(url, free_port(), serve_workers, log_dir)
    stop = threading.Event()
    try:
        with SmtpSink(keep_messages=False) as smtp:
            shop = seed(url, members, smtp.port, receiver.url)
            procs.start_server()
            procs.start_worker()
            base = f"http://127.0.0.1:{procs.port}"
            began = time.monotonic()
            until = began + seconds
            side = [
                threading.Thread(
                    target=sample_memory,
                    args=(procs, traffic, min(10.0, seconds / 18), stop, samples),
                ),
                threading.Thread(
                    target=importer,
                    args=(shop, base, traffic, max(20.0, seconds / 8), stop),
                ),
            ]
            tills = [
                threading.Thread(target=till, args=(shop, base, traffic, n, until, stop))
                for n in range(clients)
            ]
            for thread in [*side, *tills]:
                thread.start()
            time.sleep(max(0.0, began + 0.4 * seconds - time.monotonic()))
            launch_campaign(shop, base, traffic)
            time.sleep(max(0.0, began + 0.5 * seconds - time.monotonic()))
            procs.kill_worker()
            for thread in tills:
                thread.join()
            stop.set()
            for thread in side:
                thread.join()
            traffic_seconds = time.monotonic() - began
            settled = settle(url, shop.merchant_id, timeout=180)
            checks = check_all(procs, shop, traffic, smtp, receiver, settled)
            checks["memory"] = memory_flat(samples)
    finally:
        stop.set()  # on an error too: no thread outlives the run
        procs.stop()
        receiver.close()
        drop_database(pg, url)
    ok = all(c["ok"] for c in checks.values())
    return {
        "ok": ok,
        "started_at": started_at,
        "machine": f"{os.cpu_count()} cores, load average {load_at_start:.2f} at start",
        "minutes": minutes,
        "clients": clients,
        "serve_workers": serve_workers,
        "traffic_seconds": round(traffic_seconds, 1),
        "acknowledged_purchases": len(traffic.purchases),
        "refunds": traffic.refunds,
        "top_ups": traffic.top_ups,
        "imports": traffic.imports,
        "campaign_id": traffic.campaign_id,
        "statuses": dict(sorted(traffic.statuses.items())),
        "latency_ms": _percentiles(traffic.latencies),
        "unexpected_answers": traffic.unexpected[:20],
        "checks": checks,
        "rss_mb": {k: [round(v, 1) for v in vs] for k, vs in samples.items()},
        "logs": str(log_dir),
    }


def _percentiles(latencies: list[float]) -> dict[str, float]:
    done = sorted(latencies)
    if not done:
        return {}

    def at(p: float) -> float:
        return round(done[min(len(done) - 1, int(p * len(done)))] * 1000, 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(done[-1] * 1000, 1)}


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"soak {report['minutes']:g} min, {report['clients']} clients, "
        f"serve --workers {report['serve_workers']}, {report['machine']}",
        f"acknowledged purchases {report['acknowledged_purchases']:,}, refunds "
        f"{report['refunds']:,}, top-ups {report['top_ups']:,}, imports {report['imports']}, "
        f"campaign {report['campaign_id']}",
        f"latency {report['latency_ms']}",
    ]
    for name, check in report["checks"].items():
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
    lines.append("PASSED" if report["ok"] else "FAILED")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--members", type=int, default=300, help="members seeded (campaign size)")
    parser.add_argument("--serve-workers", type=int, default=1, help="patron serve --workers")
    parser.add_argument("--pg", default=PG, help="PostgreSQL server (a database is created)")
    parser.add_argument("--json", default="", help="also write the report to this file")
    args = parser.parse_args()
    report = soak(args.minutes, args.clients, args.members, args.serve_workers, args.pg)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    print(summary(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
