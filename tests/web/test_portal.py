"""The member portal: sign-in links (valid, reused, expired), isolation, preferences, visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.members import service as members
from patron.portal import service as portal
from patron.portal.models import PortalLink, PortalVisit
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member


def _link(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, settings: Settings
) -> str:
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    return issued.url.removeprefix(settings.base_url)


def _sign_in(client: TestClient, path: str) -> object:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)


def test_api_issues_a_link_that_signs_the_member_in_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    member_id = seed_member(sessions, tenant)
    r = client.post(f"/api/v1/members/{member_id}/portal-link", headers=tenant.clerk_headers)
    assert r.status_code == 201
    body = r.json()
    assert body["url"].startswith("http://127.0.0.1:8000/portal/signin/")
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires_at == clock.now() + timedelta(seconds=900)
    path = body["url"].removeprefix("http://127.0.0.1:8000")

    signed = _sign_in(client, path)
    assert (signed.status_code, signed.headers["location"]) == (303, "/portal")  # type: ignore[attr-defined]
    home = client.get("/portal")
    assert home.status_code == 200 and "Hello, Mei" in home.text and "A-1001" in home.text

    # The same link again, even from the signed-in browser: refused, and nothing changes.
    with sessions() as s:
        used_at = s.scalars(select(PortalLink.used_at)).one()
    again = client.get(path)
    assert again.status_code == 409 and "already been used" in again.text
    fresh = TestClient(client.app)
    assert fresh.get(path).status_code == 409
    with sessions() as s:
        assert s.scalars(select(PortalLink.used_at)).one() == used_at


def test_expired_link_is_refused(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    member_id = seed_member(sessions, tenant)
    path = _link(sessions, tenant, member_id, settings)
    page = client.get(path)
    clock.advance(timedelta(seconds=settings.portal_link_max_age_seconds))
    r = client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 410 and "has expired" in r.text
    assert client.get("/portal").status_code == 401
    with sessions() as s:
        assert s.scalars(select(PortalLink.used_at)).one() is None


def test_forged_link_and_api_tenancy(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    member_id = seed_member(sessions, tenant)
    path = _link(sessions, tenant, member_id, settings)
    assert client.get(path[:-3] + "abc").status_code == 404
    r = client.post(f"/api/v1/members/{member_id}/portal-link", headers=other_tenant.headers)
    assert r.status_code == 404
    with sessions() as s:
        assert len(s.scalars(select(PortalLink)).all()) == 1


def test_member_sees_only_their_own_data(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    mine = seed_member(sessions, tenant, order_ref="MINE-1")
    seed_member(
        sessions,
        tenant,
        first="Zed",
        last="Other",
        phone="+8613700137000",
        email="zed@example.com",
        order_ref="THEIRS-1",
    )
    _sign_in(client, _link(sessions, tenant, mine, settings))
    for page in ("/portal", "/portal/orders", "/portal/profile"):
        text = client.get(page).text
        assert "THEIRS-1" not in text and "Zed" not in text and "zed@example.com" not in text
    assert "MINE-1" in client.get("/portal/orders").text
    # The staff dashboard does not accept a portal session.
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_preferences_and_consent_with_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant)
    _sign_in(client, _link(sessions, tenant, member_id, settings))
    page = client.get("/portal/profile")
    token = csrf_of(page)
    refused = client.post("/portal/profile/consents", data={"channel": "email", "granted": "true"})
    assert refused.status_code == 403
    with sessions() as s:
        assert members.consents(s, tenant.merchant_id, member_id) == []
    r = client.post(
        "/portal/profile/preferences",
        data={
            "categories": ["Coats", "Accessories"],
            "styles": "minimal，classic",
            "colours": "navy",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200 and "Your preferences are saved." in r.text
    client.post(
        "/portal/profile/consents",
        data={"channel": "email", "granted": "true", "csrf_token": token},
    )
    with sessions() as s:
        member = members.get_member(s, tenant.merchant_id, member_id)
        assert member.preferences == {
            "categories": ["Coats", "Accessories"],
            "styles": ["minimal", "classic"],
            "colours": ["navy"],
        }
        [consent] = members.consents(s, tenant.merchant_id, member_id)
        assert (consent.channel, consent.granted, consent.source) == ("email", True, "portal")


def test_visits_are_recorded_once_per_day(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    member_id = seed_member(sessions, tenant)
    _sign_in(client, _link(sessions, tenant, member_id, settings))
    client.get("/portal")
    client.get("/portal/orders")
    clock.advance(timedelta(days=1))
    client.get("/portal")
    with sessions() as s:
        visits = s.execute(
            select(PortalVisit.member_id, PortalVisit.visited_on).order_by(PortalVisit.id)
        ).all()
    # The clock starts at 2026-03-10 02:00 UTC, 10:00 in the merchant's Asia/Shanghai.
    assert visits == [(member_id, date(2026, 3, 10)), (member_id, date(2026, 3, 11))]


def test_member_changes_their_own_name_and_a_blank_name_changes_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant)
    other = seed_member(
        sessions, tenant, first="Tom", last="Ng", phone="+8613900139000", email=None, order_ref=None
    )
    _sign_in(client, _link(sessions, tenant, member_id, settings))
    token = csrf_of(client.get("/portal/profile"))
    blank = client.post(
        "/portal/profile/name", data={"first_name": "  ", "last_name": "X", "csrf_token": token}
    )
    assert blank.status_code == 200 and "Please give your name." in blank.text
    with sessions() as s:
        kept = members.get_member(s, tenant.merchant_id, member_id)
        assert (kept.first_name, kept.last_name) == ("Mei", "Chen")
    saved = client.post(
        "/portal/profile/name",
        data={"first_name": " 美 ", "last_name": "陈", "csrf_token": token},
    )
    assert saved.status_code == 200 and "Your name is saved." in saved.text
    with sessions() as s:
        changed = members.get_member(s, tenant.merchant_id, member_id)
        untouched = members.get_member(s, tenant.merchant_id, other)
    assert (changed.first_name, changed.last_name) == ("美", "陈")
    assert (untouched.first_name, untouched.last_name) == ("Tom", "Ng")
    # The name shows in the order of its script.
    assert "陈美" in client.get("/portal/profile").text
