"""The owner gets in while an attacker keeps the account locked: a reset link by email (a real
SMTP server on loopback), a new password, every old session ended, the lock lifted."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.tenancy.models import LoginThrottle, StaffPasswordReset
from patron.web.security import STAFF_COOKIE
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.web.helpers import csrf_of, sign_in

LINK = re.compile(r"http://127\.0\.0\.1:8000(/password-reset/[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def mail_client(
    settings: Settings, engine: Engine, clock: FrozenClock, smtp: SmtpSink
) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_from": "ops@patron.test"}
    )
    app = create_app(configured, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c


def _login(client: TestClient, email: str, password: str) -> int:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    return r.status_code


def _ask_for_link(client: TestClient, email: str) -> str:
    page = client.get("/password-reset")
    r = client.post("/password-reset", data={"email": email, "csrf_token": csrf_of(page)})
    assert r.status_code == 200
    assert "a link to choose a new password is on its way" in r.text
    return r.text


def test_the_owner_resets_the_password_while_an_attacker_keeps_it_locked(
    mail_client: TestClient,
    tenant: Tenant,
    smtp: SmtpSink,
    sessions: sessionmaker[Session],
) -> None:
    client = mail_client
    sign_in(client, tenant)
    stolen = TestClient(client.app)
    stolen.cookies.set(STAFF_COOKIE, client.cookies[STAFF_COOKIE])
    attacker = TestClient(client.app)
    for _ in range(5):
        assert _login(attacker, tenant.owner_email, "guess guess") == 401
    assert _login(attacker, tenant.owner_email, "guess guess") == 429
    owner = TestClient(client.app)
    assert _login(owner, tenant.owner_email, tenant.owner_password) == 429  # locked out too

    _ask_for_link(owner, tenant.owner_email)
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert (mail["To"], mail["Subject"]) == (tenant.owner_email, "Choose a new Patron password")
    found = LINK.search(mail.get_content())
    assert found, mail.get_content()
    path = found.group(1)

    form = owner.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.text
    token = csrf_of(form)
    short = owner.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert short.status_code == 422 and "at least 8 characters" in short.text
    done = owner.post(
        path,
        data={"password": "brand new horse", "confirm": "brand new horse", "csrf_token": token},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/dashboard")
    assert owner.get("/dashboard", follow_redirects=False).status_code == 200
    with sessions() as s:
        lock = s.get(LoginThrottle, f"account:{tenant.owner_email}")
        assert lock is not None and (lock.failures, lock.locked_until) == (0, None)

    # Every session signed in before the reset has ended; the link works once.
    assert stolen.get("/dashboard", follow_redirects=False).status_code == 303
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    again = owner.get(path)
    assert again.status_code == 404 and "has been used or has expired" in again.text
    # The attacker goes on guessing (the old password too) and is refused; the owner stays in.
    for _ in range(6):
        assert _login(attacker, tenant.owner_email, tenant.owner_password) in {401, 429}
    assert owner.get("/dashboard", follow_redirects=False).status_code == 200


def test_unknown_email_gets_the_same_answer_and_no_mail(
    mail_client: TestClient, tenant: Tenant, smtp: SmtpSink, sessions: sessionmaker[Session]
) -> None:
    known = _ask_for_link(mail_client, tenant.owner_email)
    unknown = _ask_for_link(mail_client, "nobody@alpha.test")
    assert known == unknown
    # A second request within the minute sends nothing more.
    _ask_for_link(mail_client, tenant.owner_email)
    assert [m["To"] for m in smtp.messages] == [tenant.owner_email]
    with sessions() as s:
        assert len(s.scalars(select(StaffPasswordReset.id)).all()) == 1


def test_without_smtp_the_page_says_to_ask_the_owner(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/password-reset")
    assert "This server cannot send email" in page.text
    assert 'action="/password-reset"' not in page.text
    assert client.get("/password-reset/not-a-token").status_code == 404
