"""Crash tests: a worker process killed with SIGKILL at random points while dispatching, restarted
until done.

- Email, 10,000 messages on PostgreSQL (production; the acceptance test) and 2,000 on SQLite:
  every consenting member gets exactly one message (counted by Message-ID at the SMTP server),
  nothing is lost.
- WhatsApp (no idempotency key, never resent blindly), 400 messages: nobody gets two; only the
  one message in flight at each kill can end ``unknown`` - the untried rest of the worker's
  batch stays ``queued`` and is sent by the next worker (ADR 0401).
- Two workers on PostgreSQL at once: no duplicates.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import SYSTEM_CLOCK
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.engagement import library, policy
from patron.engagement.channels.email import message_id_header
from patron.engagement.config import MessageSettings
from patron.engagement.dispatcher import dispatch_messages
from patron.engagement.messages import enqueue_messages
from patron.engagement.models import Message
from patron.engagement.preparation import idempotency_key
from patron.members.models import Member, MemberConsent
from tests.conftest import make_tenant
from tests.engagement.providers import ProviderServer, SmtpSink

ROOT = Path(__file__).resolve().parents[2]
OPEN_STATES = ("queued", "sending", "unknown")
# PostgreSQL is production: the full acceptance size. SQLite runs the same test smaller, to
# keep the suite within its time budget on two cores (see docs/engagement-channels.md).
CRASH_SIZES = {"sqlite": 2_000, "postgresql": 10_000}
TEMPLATE = {
    "en": {
        "subject": "Hello {{ member.first_name }}",
        "html": "<p>Hi</p>",
        "text": "Hi {{ member.first_name }}",
    }
}


def add_members(
    s: Session, mid: int, members: int, channel: str, topic: str, template_id: int
) -> list[int]:
    """``members`` members with email and phone, every tenth without consent on ``channel``,
    and one campaign message each; returns the consenting members' ids."""
    now = SYSTEM_CLOCK.now()
    s.execute(
        insert(Member),
        [
            {
                "merchant_id": mid,
                "first_name": f"M{i}",
                "email": f"m{i}@example.com",
                "phone": f"+86138{i:08d}",
                "preferences": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(members)
        ],
    )
    ids = list(s.scalars(select(Member.id).where(Member.merchant_id == mid).order_by(Member.id)))
    consenting = [m for i, m in enumerate(ids) if i % 10 != 0]
    s.execute(
        insert(MemberConsent),
        [
            {
                "merchant_id": mid,
                "member_id": m,
                "channel": channel,
                "topic": topic,
                "granted": True,
                "source": "test",
                "changed_at": now,
            }
            for m in consenting
        ],
    )
    enqueue_messages(
        s,
        mid,
        channel,
        [(m, f"camp-1:{m}", {}) for m in ids],
        topic=topic,
        kind="marketing",
        template_id=template_id,
    )
    return consenting


def new_merchant(
    sessions: sessionmaker[Session], channel: str, creds: dict[str, Any], base_url: str | None
) -> int:
    tenant = make_tenant(sessions, f"crash{random.randrange(10**6)}")
    with transaction(sessions) as s:
        library.put_channel_setting(
            s, tenant.merchant_id, channel, enabled=True, base_url=base_url, credentials=creds
        )
        policy.set_policy(
            s,
            tenant.merchant_id,
            cap_messages=2,
            cap_window_days=7,
            quiet_hours_enabled=False,
            quiet_start="21:00",
            quiet_end="09:00",
        )
    return tenant.merchant_id


def seed(sessions: sessionmaker[Session], smtp: SmtpSink, members: int) -> tuple[int, set[str]]:
    """A merchant with ``members`` members (every tenth has not consented) and one email each.
    Returns the merchant id and the Message-IDs the consenting members must receive."""
    mid = new_merchant(sessions, "email", smtp.credentials, None)
    with transaction(sessions) as s:
        template = library.create_template(s, mid, "hello", "email", TEMPLATE)
        consenting = add_members(s, mid, members, "email", "promotions", template.id)
    expected = {
        message_id_header(idempotency_key(mid, f"camp-1:{m}", 0), "news@alpha.test")
        for m in consenting
    }
    return mid, expected


def outstanding(
    sessions: sessionmaker[Session], mid: int, states: tuple[str, ...] = OPEN_STATES
) -> int:
    with sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.merchant_id == mid, Message.status.in_(states))
            )
            or 0
        )


def status_counts(sessions: sessionmaker[Session], mid: int) -> dict[str, int]:
    with sessions() as s:
        rows = s.execute(
            select(Message.status, func.count())
            .where(Message.merchant_id == mid)
            .group_by(Message.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def worker_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "PATRON_DATABASE_URL": url,
        "PATRON_SECRET_KEY": "crash-test-secret",
        "PATRON_ENV": "test",
        "PATRON_LOG_LEVEL": "WARNING",
        "PATRON_WORKER_POLL_SECONDS": "0.1",
        "PATRON_MESSAGES_BATCH_SIZE": "100",
        "PATRON_MESSAGES_LEASE_SECONDS": "3",
        "PATRON_MESSAGES_UNKNOWN_GRACE_SECONDS": "0",
    }


def run_with_kills(
    url: str,
    sessions: sessionmaker[Session],
    mid: int,
    max_kills: int = 12,
    states: tuple[str, ...] = OPEN_STATES,
) -> int:
    """Start `patron worker`, SIGKILL it at random moments, restart, until all is done."""
    rng = random.Random(4)
    kills = 0
    deadline = time.monotonic() + 1500  # generous: shared CI machines are slow
    while outstanding(sessions, mid, states) and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, "-m", "patron.cli", "worker"],
            env=worker_env(url),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        if kills < max_kills:
            # Start-up takes seconds on a busy machine: wait until this worker has settled
            # something, then kill it a random moment later - mid-batch, often mid-send.
            before = outstanding(sessions, mid, states)
            while (
                proc.poll() is None
                and outstanding(sessions, mid, states) >= before
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            while outstanding(sessions, mid, states) and time.monotonic() < deadline:
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return kills


def file_or_pg(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Engine]:
    """A database the worker subprocess can reach: a SQLite file, or the test PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        engine: Engine = make_engine(url)
        upgrade(engine)
        return url, engine
    engine = request.getfixturevalue("pg_only_engine")
    return engine.url.render_as_string(hide_password=False), engine


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 10,000 emails through a repeatedly killed worker process
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkilled_worker_loses_nothing_and_sends_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, engine = file_or_pg(backend, tmp_path, request)
    size = CRASH_SIZES[backend]
    sessions = make_session_factory(engine)
    with SmtpSink() as smtp:
        mid, expected = seed(sessions, smtp, size)
        kills = run_with_kills(url, sessions, mid)

        received = dict(smtp.by_message_id)
    assert outstanding(sessions, mid) == 0
    assert set(received) == expected  # every consenting member, nobody else
    duplicates = sum(received.values()) - len(received)
    # SMTP has no idempotency key: a kill after the server took DATA but before our commit
    # resends that one message with the same Message-ID (ADR 0402) - at most one per kill.
    assert duplicates <= kills
    assert status_counts(sessions, mid) == {"sent": size * 9 // 10, "skipped": size // 10}
    print(f"\n{backend}: {kills} kills, {duplicates} raw SMTP duplicates (same Message-ID)")


WA_TEMPLATE = {"en": {"template_name": "spring_sale", "language": "en_US", "parameters": []}}


# One backend is enough here: the per-message marking is database-agnostic, and PostgreSQL's
# claim path is exercised by the email crash test and the two-worker test (suite time budget).
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sigkilled_worker_strands_only_the_send_in_flight_without_idempotency(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, engine = file_or_pg(backend, tmp_path, request)
    sessions = make_session_factory(engine)
    with ProviderServer(lambda url, body, headers: 0) as providers:
        state = providers.state
        creds = {"phone_number_id": state.wa_phone_id, "access_token": state.wa_token}
        mid = new_merchant(sessions, "whatsapp", creds, providers.base_url)
        with transaction(sessions) as s:
            template = library.create_template(s, mid, "spring", "whatsapp", WA_TEMPLATE)
            add_members(s, mid, 400, "whatsapp", "promotions", template.id)
        kills = run_with_kills(url, sessions, mid, max_kills=3, states=("queued", "sending"))
        sent_to = [m["to"] for m in state.whatsapp]
    counts = status_counts(sessions, mid)
    assert len(sent_to) == len(set(sent_to))  # nobody twice: an unknown is never resent
    unknown = counts.pop("unknown", 0)
    # Only a message on the wire at the moment of a kill is in doubt; before ADR 0401's fix the
    # whole untried rest of the batch (up to 100 per kill) ended here.
    assert unknown <= kills
    assert counts == {"sent": 360 - unknown, "skipped": 40}
    assert 360 - unknown <= len(sent_to) <= 360
    print(f"\n{backend}: {kills} kills, {unknown} unknown")


def test_two_workers_on_postgresql_send_each_message_once(pg_only_engine: Engine) -> None:
    sessions = make_session_factory(pg_only_engine)
    settings = Settings(env="test", database_url="postgresql://unused", secret_key="two-workers")
    cfg = MessageSettings(batch_size=25, lease_seconds=60)
    with SmtpSink() as smtp:
        mid, expected = seed(sessions, smtp, 1_000)
        stop = threading.Event()
        handled = [0, 0]

        def work(slot: int) -> None:
            own = make_session_factory(pg_only_engine)
            while not stop.is_set():
                done = dispatch_messages(own, settings, cfg)
                handled[slot] += done
                if done == 0 and outstanding(own, mid) == 0:
                    return

        threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        stop.set()
        received = dict(smtp.by_message_id)
    assert set(received) == expected
    assert max(received.values()) == 1
    assert handled[0] > 0 and handled[1] > 0  # both workers took part
