"""Message dispatch benchmark: N emails queued and delivered to a local aiosmtpd server.

    python -m bench.messages [--members N] [--database-url URL]

Reports messages per second end to end (enqueue excluded, measured separately), the share of
the dispatcher's time spent in the SMTP exchange (MAIL/RCPT/DATA on a reused connection) vs
in our code (claim, guards, render, MIME build, outcome commits), and a baseline: plain
smtplib sending the same number of pre-built messages over one connection.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.engagement import library, policy
from patron.engagement.channels import registry
from patron.engagement.channels.base import Credentials, Outgoing, SendResult
from patron.engagement.channels.email import EmailChannel
from patron.engagement.config import MessageSettings
from patron.engagement.dispatcher import dispatch_messages
from patron.engagement.messages import enqueue_messages
from patron.members.models import Member, MemberConsent
from patron.tenancy import service as tenancy

TEMPLATE = {
    "en": {
        "subject": "{{ member.first_name }}, spring offers for you",
        "html": "<html><body><p>Hi {{ member.first_name }}</p>"
        '<a href="https://shop.example/spring">Shop now</a>'
        '<a href="{{ links.unsubscribe }}">Unsubscribe</a></body></html>',
        "text": "Hi {{ member.first_name }}, spring offers: https://shop.example/spring",
    }
}


def _smtp_process(port: Any, received: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port.value)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


class TimedEmail(EmailChannel):
    """The email channel, timing the SMTP exchange itself."""

    smtp_seconds = 0.0

    def _transmit(self, mail: bytes, message: Outgoing, creds: Credentials) -> SendResult:
        started = time.perf_counter()
        try:
            return super()._transmit(mail, message, creds)
        finally:
            TimedEmail.smtp_seconds += time.perf_counter() - started


def seed(url: str, members: int, port: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        m = tenancy.create_merchant(s, "Bench", f"bench-{time.time_ns()}", "CNY", "UTC", "en")
        library.put_channel_setting(
            s,
            m.id,
            "email",
            enabled=True,
            base_url=None,
            credentials={"host": "127.0.0.1", "port": port, "from_address": "news@bench.test"},
        )
        policy.set_policy(
            s,
            m.id,
            cap_messages=2,
            cap_window_days=7,
            quiet_hours_enabled=False,
            quiet_start="21:00",
            quiet_end="09:00",
        )
        template = library.create_template(s, m.id, "spring", "email", TEMPLATE)
        now = m.created_at
        rows = [
            {
                "merchant_id": m.id,
                "first_name": f"M{i}",
                "email": f"m{i}@example.com",
                "preferences": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(members)
        ]
        for start in range(0, members, 5000):
            s.execute(insert(Member), rows[start : start + 5000])
        ids = list(s.scalars(select(Member.id).where(Member.merchant_id == m.id)))
        consents = [
            {
                "merchant_id": m.id,
                "member_id": i,
                "channel": "email",
                "topic": "promo",
                "granted": True,
                "source": "bench",
                "changed_at": now,
            }
            for i in ids
        ]
        for start in range(0, members, 5000):
            s.execute(insert(MemberConsent), consents[start : start + 5000])
        merchant_id, template_id = m.id, template.id
    started = time.perf_counter()
    with transaction(sessions) as s:
        enqueue_messages(
            s,
            merchant_id,
            "email",
            [(i, f"spring:{i}", {}) for i in ids],
            topic="promo",
            kind="marketing",
            template_id=template_id,
        )
    print(f"enqueued {members:,} in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return merchant_id


def baseline(port: int, count: int) -> float:
    """Plain smtplib: pre-built messages over one connection (the SMTP exchange alone)."""
    mails = []
    for i in range(count):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "news@bench.test", f"m{i}@example.com", "Hi"
        mail.set_content("Hi")
        mail.add_alternative("<p>Hi</p>", subtype="html")
        mails.append(mail.as_bytes())
    smtp = smtplib.SMTP("127.0.0.1", port)
    smtp.ehlo()
    started = time.perf_counter()
    for i, raw in enumerate(mails):
        smtp.mail("news@bench.test")
        smtp.rcpt(f"m{i}@example.com")
        smtp.data(raw)
    elapsed = time.perf_counter() - started
    smtp.quit()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", "--size", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    port = multiprocessing.Value("i", 0)
    from tests.engagement.providers import free_port

    port.value = free_port()
    received = multiprocessing.Value("l", 0)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(
        target=_smtp_process, args=(port, received, ready), daemon=True
    )
    server.start()
    ready.wait(10)
    seed(url, args.members, port.value)

    registry()["email"] = TimedEmail()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(env="test", database_url=url, secret_key="bench-secret")
    cfg = MessageSettings(batch_size=500, lease_seconds=600)
    started = time.perf_counter()
    while dispatch_messages(sessions, settings, cfg):
        pass
    elapsed = time.perf_counter() - started
    rate = args.members / elapsed
    smtp_share = TimedEmail.smtp_seconds / elapsed
    base = baseline(port.value, min(args.members, 20_000))
    server.terminate()
    assert received.value >= args.members, received.value
    print(f"\n## Message dispatch ({args.members:,} emails, {engine.dialect.name})\n")
    print("| measure | figure |\n| --- | --- |")
    print(f"| Patron dispatcher, end to end | {rate:,.0f} messages/s ({elapsed:.1f} s) |")
    print(f"| time in the SMTP exchange (MAIL/RCPT/DATA) | {smtp_share:.0%} |")
    print(f"| time in our code (claim, guards, render, MIME, commits) | {1 - smtp_share:.0%} |")
    print(
        f"| baseline: plain smtplib, pre-built messages, one connection | {base:,.0f} messages/s |"
    )
    print(f"| ratio Patron / baseline | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
