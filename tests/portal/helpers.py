"""Shared steps of the join and code sign-in tests: channels, links, codes from the providers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.portal import join
from patron.tenancy.models import Merchant, StaffUser
from tests.conftest import Tenant
from tests.engagement.conftest import configure
from tests.engagement.providers import ProviderServer, SmtpSink
from tests.web.helpers import csrf_of

CODE = re.compile(r"\b(\d{6})\b")


def use_email(sessions: sessionmaker[Session], tenant: Tenant, smtp: SmtpSink) -> None:
    configure(sessions, tenant.merchant_id, "email", smtp.credentials)


def use_sms(sessions: sessionmaker[Session], tenant: Tenant, server: ProviderServer) -> None:
    creds = {
        "account_sid": server.state.sid,
        "auth_token": server.state.auth_token,
        "from_number": "+15005550006",
    }
    configure(sessions, tenant.merchant_id, "sms", creds, base_url=server.base_url)


def join_path(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    store_id: int | None = None,
    staff_id: int | None = None,
    source: str | None = None,
) -> str:
    with sessions() as s:
        merchant = s.get(Merchant, tenant.merchant_id)
        assert merchant is not None
        return join.join_path(
            settings.secret_key, merchant, store_id or tenant.store_id, staff_id, source
        )


def emailed_code(smtp: SmtpSink, index: int = -1) -> str:
    body = smtp.messages[index].get_body(("plain",))
    assert body is not None
    found = CODE.search(body.get_content())
    assert found, body.get_content()
    return found.group(1)


def texted_code(server: ProviderServer, index: int = -1) -> str:
    found = CODE.search(server.state.sms[index]["Body"])
    assert found
    return found.group(1)


def post_form(client: TestClient, path: str, data: dict[str, object]) -> object:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={**data, "csrf_token": csrf_of(page)}, follow_redirects=False)


def enter_code(client: TestClient, slug: str, code: str) -> object:
    page = client.get(f"/portal/{slug}/code")
    assert page.status_code == 200, page.text
    return client.post(
        f"/portal/{slug}/code",
        data={"code": code, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )


def staff_id(sessions: sessionmaker[Session], email: str) -> int:
    with transaction(sessions) as s:
        found = s.scalar(select(StaffUser.id).where(StaffUser.email == email))
        assert found is not None
        return int(found)
