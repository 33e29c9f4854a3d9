"""Sessions end on the server: a cookie copied before logout, a password change or the staff
user's removal stops working at once (staff and portal), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.portal import service as portal
from patron.portal.models import PortalSession
from patron.tenancy import sessions as staff_sessions
from patron.tenancy.models import StaffSession, StaffUser
from patron.tenancy.tasks import purge_sign_in_records
from patron.web.security import PORTAL_COOKIE, STAFF_COOKIE
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in


def _copy(client: TestClient, cookie: str) -> TestClient:
    """Another browser holding a copy of ``client``'s cookie."""
    thief = TestClient(client.app)
    value = client.cookies.get(cookie)
    assert value
    thief.cookies.set(cookie, value)
    return thief


def _owner_id(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    with sessions() as s:
        return s.scalars(select(StaffUser.id).where(StaffUser.email == tenant.owner_email)).one()


def test_a_copied_staff_cookie_dies_at_logout(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    thief = _copy(client, STAFF_COOKIE)
    assert thief.get("/dashboard", follow_redirects=False).status_code == 200
    token = csrf_of(client.get("/dashboard"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    r = thief.get("/dashboard", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=%2Fdashboard")
    with sessions() as s:
        ended = s.scalars(select(StaffSession.ended_at)).all()
    assert len(ended) == 1 and ended[0] is not None


def test_another_device_stays_signed_in_after_one_logs_out(
    client: TestClient, tenant: Tenant
) -> None:
    sign_in(client, tenant)
    laptop = TestClient(client.app)
    sign_in(laptop, tenant)
    token = csrf_of(client.get("/dashboard"))
    client.post("/logout", data={"csrf_token": token})
    assert laptop.get("/dashboard", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("how", ["password", "removal"])
def test_password_change_and_removal_end_every_session(
    how: str, client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    thief = _copy(client, STAFF_COOKIE)
    owner = _owner_id(sessions, tenant)
    change: Callable[[Session], object] = (
        (lambda s: staff_sessions.change_password(s, tenant.merchant_id, owner, "new horse 22"))
        if how == "password"
        else (lambda s: staff_sessions.remove_staff_user(s, tenant.merchant_id, owner))
    )
    with transaction(sessions) as s:
        change(s)
    for browser in (client, thief):
        assert browser.get("/dashboard", follow_redirects=False).status_code == 303
    with sessions() as s:
        open_sessions = s.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.ended_at.is_(None))
        )
    assert open_sessions == 0


def test_another_merchants_staff_cannot_be_changed_or_removed(
    tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    owner = _owner_id(sessions, tenant)
    with transaction(sessions) as s:
        before = s.get(StaffUser, owner)
        assert before is not None
        hashed = before.password_hash
    for change in (
        lambda s: staff_sessions.change_password(s, other_tenant.merchant_id, owner, "x" * 10),
        lambda s: staff_sessions.remove_staff_user(s, other_tenant.merchant_id, owner),
    ):
        with pytest.raises(Exception, match="staff user not found"), transaction(sessions) as s:
            change(s)
    with sessions() as s:
        after = s.get(StaffUser, owner)
        assert after is not None and after.password_hash == hashed


def test_a_copied_portal_cookie_dies_when_the_member_signs_out(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant)
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    path = issued.url.removeprefix(settings.base_url)
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_of(page)})
    thief = _copy(client, PORTAL_COOKIE)
    assert "Hello, Mei" in thief.get("/portal").text
    token = csrf_of(client.get("/portal"))
    assert client.post("/portal/logout", data={"csrf_token": token}).status_code == 200
    refused = thief.get("/portal")
    assert refused.status_code == 401
    assert "Please sign in" in refused.text and "Hello, Mei" not in refused.text
    with sessions() as s:
        ended = s.scalars(select(PortalSession.ended_at)).all()
    assert len(ended) == 1 and ended[0] is not None


KEEP_COUNTERS = 10 * 24 * 3600  # failure counters stay: this test counts sessions


def test_ended_and_expired_sign_in_records_are_purged(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    sign_in(client, tenant)
    laptop = TestClient(client.app)
    sign_in(laptop, tenant)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/dashboard"))})
    with transaction(sessions) as s:
        assert purge_sign_in_records(s, KEEP_COUNTERS) == 0  # ended just now: kept a day
    clock.advance(timedelta(hours=25))
    with transaction(sessions) as s:
        assert purge_sign_in_records(s, KEEP_COUNTERS) == 1  # the logged-out one
    with sessions() as s:
        assert s.scalars(select(StaffSession.ended_at)).all() == [None]  # the laptop's
    clock.advance(timedelta(hours=12))  # the laptop's expired 12 h after sign-in, a day ago
    with transaction(sessions) as s:
        assert purge_sign_in_records(s, KEEP_COUNTERS) == 1
    with sessions() as s:
        assert s.scalars(select(StaffSession.id)).all() == []
