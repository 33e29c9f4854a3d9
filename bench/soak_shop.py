"""The soak's shop and its surroundings: a merchant on a fresh PostgreSQL database, the local
SMTP server and webhook receiver it talks to, and the `patron serve` / `patron worker`
processes (see bench/soak.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
from sqlalchemy import insert, select

from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.engagement import library, policy
from patron.members.models import Member, MemberConsent
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.tenancy import service as tenancy
from patron.webhooks import service as webhooks

ROOT = Path(__file__).resolve().parent.parent
PROGRAM: dict[str, dict[str, Any]] = {
    "points": {
        "earn_points": 1,
        "per_minor": 100,
        "pending_days": 0,
        "expiry": {"mode": "rolling", "months": 12},
        "redemption": {"points": 100, "value_minor": 100, "max_share_percent": 50},
    },
    "stored_value": {"bonus_levels": [{"top_up_minor": 10000, "bonus_minor": 2000}]},
}
PRODUCTS = [("TEA-1", "Green tea", "tea", 12810), ("CUP-1", "Cup", "ware", 4530)]
TEMPLATE = {
    "en": {
        "subject": "{{ member.first_name }}, spring tea is in",
        "html": '<p>Hi {{ member.first_name }}</p><a href="{{ links.unsubscribe }}">Stop</a>',
        "text": "Hi {{ member.first_name }}, spring tea is in.",
    }
}


@dataclass
class Shop:
    url: str
    merchant_id: int
    clerk_key: str
    owner_key: str
    template_id: int
    members: list[int]


def create_database(admin_url: str) -> str:
    """A new, uniquely named database on the server of ``admin_url``; returns its URL."""
    name = f"patron_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, members: int, smtp_port: int, hook_url: str) -> Shop:
    """Migrate; one merchant with points and stored value (top-up bonus), a store, two
    products, a clerk and an owner API key, an email channel on ``smtp_port``, a webhook
    endpoint for every event, and ``members`` members who accept marketing email."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        m = tenancy.create_merchant(s, "Soak Tea", "soak", "CNY", "Asia/Shanghai", "en")
        tenancy.create_store(s, m.id, "S1", "Main street", "store")
        _c, clerk_key = tenancy.create_api_key(s, m.id, "till", "clerk")
        _o, owner_key = tenancy.create_api_key(s, m.id, "office", "owner")
        for kind, config in PROGRAM.items():
            put_rule(s, m.id, Kind(kind), config, actor="soak")
        for sku, name, category, price in PRODUCTS:
            create_product(
                s, m.id, ProductCreate(sku=sku, name=name, category=category, price_minor=price)
            )
        library.put_channel_setting(
            s,
            m.id,
            "email",
            enabled=True,
            base_url=None,
            credentials={"host": "127.0.0.1", "port": smtp_port, "from_address": "tea@soak.test"},
        )
        policy.set_policy(
            s,
            m.id,
            cap_messages=100,
            cap_window_days=1,
            quiet_hours_enabled=False,
            quiet_start="21:00",
            quiet_end="09:00",
        )
        template = library.create_template(s, m.id, "spring", "email", TEMPLATE)
        webhooks.create_endpoint(s, m.id, hook_url, ["*"])
        now = m.created_at
        s.execute(
            insert(Member),
            [
                {
                    "merchant_id": m.id,
                    "first_name": f"M{i}",
                    "email": f"m{i}@soak.test",
                    "preferences": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(members)
            ],
        )
        ids = list(s.scalars(select(Member.id).where(Member.merchant_id == m.id)))
        s.execute(
            insert(MemberConsent),
            [
                {
                    "merchant_id": m.id,
                    "member_id": i,
                    "channel": "email",
                    "topic": "marketing",
                    "granted": True,
                    "source": "soak",
                    "changed_at": now,
                }
                for i in ids
            ],
        )
        shop = Shop(url, m.id, clerk_key, owner_key, template.id, ids)
    engine.dispose()
    return shop


class WebhookReceiver:
    """A loopback receiver that answers 200 and counts each ``webhook-id`` it receives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_message_id: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    if not receiver.by_message_id[webhook_id]:  # types of distinct deliveries
                        receiver.types[json.loads(body).get("type", "")] += 1
                    receiver.by_message_id[webhook_id] += 1
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Processes:
    """`patron serve` (without its in-process worker) and one `patron worker` at a time."""

    url: str
    port: int
    serve_workers: int
    log_dir: Path
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            "PATRON_DATABASE_URL": self.url,
            "PATRON_SECRET_KEY": "soak-secret-key-0123456789abcdef",
            "PATRON_WORKER_IN_PROCESS": "false",
            "PATRON_ANALYTICS_PREDICT_DAILY": "false",
            "PATRON_LOG_LEVEL": "WARNING",
            "PATRON_WORKER_POLL_SECONDS": "0.5",
            "PATRON_WEBHOOK_TIMEOUT_SECONDS": "5",
            "PATRON_MESSAGES_LEASE_SECONDS": "10",
            # The send in flight when the worker is killed becomes `unknown`; email has no status
            # callback to wait 15 minutes for, and its stable Message-ID makes the resend safe.
            "PATRON_MESSAGES_UNKNOWN_GRACE_SECONDS": "20",
        }

    def _log(self, name: str) -> IO[bytes]:
        handle = (self.log_dir / name).open("wb")
        self._logs.append(handle)
        return handle

    def start_server(self) -> None:
        patron = str(Path(sys.executable).with_name("patron"))
        cmd = [patron, "serve", "--port", str(self.port), "--workers", str(self.serve_workers)]
        log = self._log("serve.log")
        self.server = subprocess.Popen(cmd, env=self.env(), cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"patron serve exited; see {self.log_dir / 'serve.log'}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("patron serve did not answer /health within 120 s")

    def start_worker(self) -> subprocess.Popen[bytes]:
        patron = str(Path(sys.executable).with_name("patron"))
        log = self._log(f"worker-{len(self.workers) + 1}.log")
        proc = subprocess.Popen(
            [patron, "worker"], env=self.env(), cwd=ROOT, stdout=log, stderr=log
        )
        self.workers.append(proc)
        return proc

    def kill_worker(self) -> None:
        """SIGKILL the running worker (no clean shutdown) and start a new one."""
        self.workers[-1].send_signal(signal.SIGKILL)
        self.workers[-1].wait(30)
        self.start_worker()

    def stop(self) -> None:
        for proc in [*self.workers, *([self.server] if self.server else [])]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, *([self.server] if self.server else [])]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in self._logs:
            handle.close()


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (Linux /proc), 0 once it has gone."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) * 1024 for line in status.splitlines() if line[:6] == "VmRSS:"
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration):
            continue
    return total
