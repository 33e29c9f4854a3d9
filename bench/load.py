"""The API under load: `patron serve` hit by 10, 50, 200 and 500 concurrent connections.

    python -m bench.load [--seconds S] [--levels 10,50,200,500] [--backends sqlite,postgresql]
                         [--workers N] [--pg URL]

A real server process (`patron serve`, its worker in-process as by default) on a fresh, migrated
database with one merchant and an API key. Each connection is a client on its own keep-alive
HTTP/1.1 connection that, in a loop, records an order (a new member's first purchase, by phone)
and then searches members by the last digits of a phone: a write and a read, as a till does. A
client that is refused with 503 waits what ``Retry-After`` says, as a well-behaved client does,
then carries on. Each level runs ``S`` seconds (requests still running at the end are waited for
and counted), after a 2-second warm-up with 2 connections that is not counted.

Per level: answered requests per second (2xx only, and every HTTP answer), p50/p99/max latency
of every answer, and the count of each status; "timeout" counts requests not answered within
30 s, "error" connections closed without an answer. The client is
raw asyncio (no HTTP library) so it costs the shared two cores as little as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.tenancy import service as tenancy

PG = os.environ.get("PATRON_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CLIENT_TIMEOUT = 30.0


@dataclass
class Level:
    connections: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        done = sorted(self.latencies)
        ok = sum(n for s, n in self.statuses.items() if s.startswith("2"))
        total = sum(n for s, n in self.statuses.items() if s.isdigit())

        def pct(p: float) -> float:
            return done[min(len(done) - 1, int(p * len(done)))] * 1000 if done else 0.0

        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"| {self.connections} | {ok / self.seconds:,.1f} | {total / self.seconds:,.1f} "
            f"| {pct(0.5):,.0f} | {pct(0.99):,.0f} | {(done[-1] * 1000 if done else 0):,.0f} "
            f"| {by_status} |"
        )


def _request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
        f"content-length: {len(body)}\r\n"
    )
    if body:
        head += "content-type: application/json\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, float]:
    """Send one request, read its response; (status, Retry-After seconds or 0)."""
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, float(headers.get("retry-after", "0") or 0)


async def _client(n: int, port: int, key: str, level: Level, until: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.monotonic() < until:
            i += 1
            phone = f"139{n:04d}{i:04d}"
            order = {
                "external_id": f"L-{level.connections}-{n}-{i}-{uuid.uuid4().hex[:6]}",
                "customer": {"phone": phone},
                "lines": [{"sku": "T", "name": "Tea", "quantity": 1, "unit_price_minor": 3300}],
            }
            for raw in (
                _request("POST", "/api/v1/orders", key, json.dumps(order).encode()),
                _request("GET", f"/api/v1/members?q={phone[-4:]}&limit=5", key),
            ):
                began = time.monotonic()
                try:
                    status, retry = await asyncio.wait_for(
                        _exchange(reader, writer, raw), CLIENT_TIMEOUT
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    level.statuses["timeout" if isinstance(exc, TimeoutError) else "error"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                level.latencies.append(time.monotonic() - began)
                level.statuses[str(status)] += 1
                if status == 503:
                    await asyncio.sleep(retry)
                    break
    finally:
        writer.close()


async def _run_level(port: int, key: str, connections: int, seconds: float) -> Level:
    level = Level(connections, seconds)
    until = time.monotonic() + seconds
    await asyncio.gather(*(_client(n, port, key, level, until) for n in range(connections)))
    return level


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _prepare(url: str) -> str:
    """Migrate, create the merchant; return a manager API key."""
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as s:
        merchant = tenancy.create_merchant(s, "Load", "load", "CNY", "Asia/Shanghai", "en")
        tenancy.create_store(s, merchant.id, "S1", "Main street", "store")
        _k, key = tenancy.create_api_key(s, merchant.id, "load", "manager")
    engine.dispose()
    return key


def _serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": url,
        "PATRON_ANALYTICS_PREDICT_DAILY": "false",
        "PATRON_LOG_LEVEL": "warning",
    }
    patron = Path(sys.executable).with_name("patron")
    cmd = [str(patron), "serve", "--port", str(port), "--workers", str(workers)]
    # The server's log (tracebacks of 500s on old code) would bury the tables: kept aside.
    fd, log = tempfile.mkstemp(prefix="bench-load-", suffix=".log")
    server = subprocess.Popen(cmd, env=env, stdout=fd, stderr=fd)
    os.close(fd)
    print(f"server log: {log}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start")


def bench(url: str, name: str, levels: list[int], seconds: float, workers: int) -> None:
    key = _prepare(url)
    port = _free_port()
    server = _serve(url, port, workers)
    try:
        print(f"\n{name}, patron serve --workers {workers}, {seconds:g} s per level")
        print("| connections | 2xx/s | answers/s | p50 ms | p99 ms | max ms | statuses |")
        print("|---:|---:|---:|---:|---:|---:|---|")
        asyncio.run(_run_level(port, key, 2, 2.0))  # warm up: first requests load modules
        for connections in levels:
            level = asyncio.run(_run_level(port, key, connections, seconds))
            print(level.row(), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # threads stuck on a database that is overwhelmed
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each level")
    parser.add_argument("--levels", default="10,50,200,500")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="patron serve --workers")
    parser.add_argument("--pg", default=PG, help="PostgreSQL server (a database is created)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    backends = args.backends.split(",")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/load.db", "SQLite", levels, args.seconds, args.workers)
    if "postgresql" in backends:
        name = f"bench_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = args.pg.rsplit("/", 1)[0] + f"/{name}"
            bench(url, "PostgreSQL", levels, args.seconds, args.workers)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
