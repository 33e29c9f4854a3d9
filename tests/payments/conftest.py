"""A merchant with the typical stored value levels, a member, and the three fake providers
set up in its payment settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.payments import service
from tests.conftest import Tenant
from tests.payments.fakes import FakeAlipay, FakeProvider, FakeStripe, FakeWeChatPay
from tests.programs.helpers import STORED, set_rules

PROVIDERS = ["wechat_pay", "alipay", "stripe"]
FAKES: dict[str, type[FakeProvider]] = {
    "wechat_pay": FakeWeChatPay,
    "alipay": FakeAlipay,
    "stripe": FakeStripe,
}


@dataclass
class Shop:
    tenant: Tenant
    member_id: int
    fakes: dict[str, FakeProvider]


def client_sender(client: TestClient):  # type: ignore[no-untyped-def]
    def send(url: str, headers: dict[str, str], body: bytes) -> int:
        return client.post(urlsplit(url).path, headers=headers, content=body).status_code

    return send


def make_member(sessions: sessionmaker[Session], merchant_id: int, phone: str) -> int:
    with transaction(sessions) as s:
        member = create_member(
            s, merchant_id, MemberCreate(first_name="Mei", phone=phone, locale="en")
        )
        return member.id


def configure(
    sessions: sessionmaker[Session], merchant_id: int, fakes: dict[str, FakeProvider], base: str
) -> None:
    with transaction(sessions) as s:
        for name, fake in fakes.items():
            url, creds = fake.settings()
            service.put_settings(
                s, merchant_id, name, enabled=True, base_url=url, credentials=creds
            )
            if isinstance(fake, FakeStripe):
                fake.notify_url = service.notify_url(base, name, merchant_id)


@pytest.fixture
def shop(
    sessions: sessionmaker[Session], tenant: Tenant, client: TestClient, clock: FrozenClock
) -> Iterator[Shop]:
    set_rules(sessions, tenant.merchant_id, stored_value=STORED)
    member_id = make_member(sessions, tenant.merchant_id, "+8613800138000")
    fakes = {name: cls(clock.now, client_sender(client)) for name, cls in FAKES.items()}
    base = client.app.state.settings.base_url  # type: ignore[attr-defined]
    configure(sessions, tenant.merchant_id, fakes, base)
    try:
        yield Shop(tenant, member_id, fakes)
    finally:
        for fake in fakes.values():
            fake.close()
