"""Webhook delivery throughput: Patron's worker against raw signed POSTs to the same receiver.

    python -m bench.webhooks [--size N] [--pg URL]

Our figure: N events emitted in one transaction, then the worker (fan-out + leased, recorded
delivery) drains them to a loopback receiver that answers 200 at once. Baseline, measured in
the same run: the same N signed POSTs sent with one httpx client in a loop, no database. The
ratio shows what the durable bookkeeping (lease, attempt row, status update) costs per message.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine
from standardwebhooks import Webhook

from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.events import emit
from patron.core.migrate import upgrade
from patron.tenancy import service as tenancy
from patron.webhooks import service
from patron.webhooks.delivery import message_body
from patron.worker import drain


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    # One write per response, sent at once: otherwise Nagle and delayed ACKs add 40 ms a request.
    disable_nagle_algorithm = True
    wbufsize = 65536

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _patron_rate(engine: Engine, url: str, size: int) -> float:
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = Settings(database_url=str(engine.url), worker_in_process=False)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        merchant = tenancy.create_merchant(s, "Bench", slug, "CNY", "Asia/Shanghai")
        service.create_endpoint(s, merchant.id, url, ["*"])
        for n in range(size):
            emit(s, merchant.id, "order.created", {"order_id": n, "total_minor": 12900})
    started = time.perf_counter()
    drain(sessions, settings, max_rounds=1_000_000)
    return size / (time.perf_counter() - started)


def _raw_rate(url: str, size: int) -> float:
    wh = Webhook(service.new_secret())
    started = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for n in range(size):
            body = message_body("order.created", datetime.now(UTC), {"order_id": n})
            msg_id = service.new_message_id()
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": wh.sign(msg_id, now, body),
            }
            client.post(url, content=body.encode(), headers=headers).raise_for_status()
    return size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=500, help="events to deliver")
    parser.add_argument("--pg", default=None, help="also run on this PostgreSQL admin URL")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    rows = []
    baseline = _raw_rate(url, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        rows.append(("SQLite", _patron_rate(engine, url, args.size)))
        engine.dispose()
    if args.pg:
        name = f"patron_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            engine = make_engine(args.pg.rsplit("/", 1)[0] + f"/{name}")
            rows.append(("PostgreSQL", _patron_rate(engine, url, args.size)))
            engine.dispose()
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.shutdown()

    print(f"\nwebhook deliveries, {args.size} events, one worker, loopback receiver\n")
    print("| database | Patron worker (deliveries/s) | raw signed POSTs (/s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {baseline:,.0f} | {rate / baseline:.2f} |")


if __name__ == "__main__":
    main()
