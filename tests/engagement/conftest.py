"""Fixtures for the message pipeline: members with consent, providers, a dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.config import MessageSettings
from patron.engagement.consent import set_consent
from patron.engagement.dispatcher import dispatch_messages
from patron.engagement.models import Message, MessageEvent
from patron.members.models import Member
from tests.engagement.providers import ProviderServer, SmtpSink


@pytest.fixture
def cfg() -> MessageSettings:
    return MessageSettings(
        batch_size=50,
        lease_seconds=60,
        max_attempts=3,
        retry_base_seconds=30,
        unknown_grace_seconds=60,
        unknown_expiry_seconds=3600,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def providers(client: TestClient) -> Iterator[ProviderServer]:
    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.post(path, content=body, headers=headers).status_code

    with ProviderServer(post) as server:
        yield server


def add_member(sessions: sessionmaker[Session], merchant_id: int, **fields: Any) -> int:
    with transaction(sessions) as s:
        now = utcnow(s)
        member = Member(
            merchant_id=merchant_id,
            first_name=fields.pop("first_name", "Lin"),
            created_at=now,
            updated_at=now,
            preferences={},
            **fields,
        )
        s.add(member)
        s.flush()
        return member.id


def grant(
    sessions: sessionmaker[Session], merchant_id: int, member_id: int, channel: str, topic: str
) -> None:
    with transaction(sessions) as s:
        set_consent(s, merchant_id, member_id, channel, topic, True, "test")


def configure(
    sessions: sessionmaker[Session],
    merchant_id: int,
    channel: str,
    credentials: dict[str, Any],
    base_url: str | None = None,
) -> None:
    with transaction(sessions) as s:
        library.put_channel_setting(
            s, merchant_id, channel, enabled=True, base_url=base_url, credentials=credentials
        )


def dispatch(sessions: sessionmaker[Session], settings: Settings, cfg: MessageSettings) -> int:
    """Run the dispatcher until it has nothing left to do now."""
    total = 0
    for _ in range(100):
        done = dispatch_messages(sessions, settings, cfg)
        total += done
        if done == 0:
            return total
    raise AssertionError("dispatcher never went idle")


def message(sessions: sessionmaker[Session], message_id: int) -> Message:
    with sessions() as s:
        row = s.get(Message, message_id)
        assert row is not None
        return row


def events(sessions: sessionmaker[Session], message_id: int) -> list[tuple[str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id)
        )
        return [(e.type, e.detail) for e in rows]
