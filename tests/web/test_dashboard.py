"""Dashboard pages over HTTP, on SQLite and PostgreSQL: login, throttling, members, tenancy."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.members import service as members
from patron.tenancy.models import LoginThrottle, StaffUser
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in


def _login(client: TestClient, email: str, password: str) -> object:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )


def test_root_sends_anonymous_to_login_and_pages_need_login(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    r = client.get("/members?q=mei", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fmembers%3Fq%3Dmei"


def test_login_ok_sets_a_secure_session_and_shows_the_dashboard(
    client: TestClient, tenant: Tenant
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    r = client.post(
        "/login",
        data={
            "email": tenant.owner_email,
            "password": tenant.owner_password,
            "csrf_token": csrf_of(page),
            "next": "/members",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/members")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("patron_staff=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert home.url.path == "/dashboard"
    assert "Good to see you, Owner" in home.text


def test_login_refuses_open_redirects(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "email": tenant.owner_email,
            "password": tenant.owner_password,
            "csrf_token": csrf_of(page),
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/dashboard"


def test_wrong_password_is_refused(client: TestClient, tenant: Tenant) -> None:
    r = _login(client, tenant.owner_email, "wrong password")
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert "Wrong email or password." in r.text  # type: ignore[attr-defined]
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sixth_wrong_password_is_slowed_and_locks_out_the_right_one(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    for _ in range(5):
        assert _login(client, tenant.owner_email, "nope nope").status_code == 401  # type: ignore[attr-defined]

    def state() -> tuple[int, object, object]:
        with sessions() as s:
            user = s.scalars(select(StaffUser).where(StaffUser.email == tenant.owner_email)).one()
            account = s.get(LoginThrottle, f"account:{tenant.owner_email}")
            assert account is not None
            return account.failures, account.locked_until, user.last_login_at

    locked = state()
    assert locked == (5, clock.now() + timedelta(seconds=2), None)

    sixth = _login(client, tenant.owner_email, "nope nope")
    assert sixth.status_code == 429  # type: ignore[attr-defined]
    assert sixth.headers["retry-after"] == "3"  # type: ignore[attr-defined]
    assert "Too many failed sign-in attempts. Try again in 3 seconds." in sixth.text  # type: ignore[attr-defined]
    right = _login(client, tenant.owner_email, tenant.owner_password)
    assert right.status_code == 429  # type: ignore[attr-defined]
    assert state() == locked
    assert client.get("/dashboard", follow_redirects=False).status_code == 303

    clock.advance(timedelta(seconds=3))
    assert _login(client, tenant.owner_email, tenant.owner_password).status_code == 303  # type: ignore[attr-defined]


def test_member_search_detail_and_history(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, tags=["vip"])
    seed_member(
        sessions,
        tenant,
        first="Tom",
        last="Ng",
        phone="+8613900139000",
        email=None,
        order_ref=None,
        register=False,
    )
    sign_in(client, tenant)
    found = client.get("/members", params={"q": "13800138000"})
    assert found.status_code == 200
    assert "Mei Chen" in found.text and "Tom Ng" not in found.text
    by_tag = client.get("/members", params={"tag": "vip"})
    assert "Mei Chen" in by_tag.text and "Tom Ng" not in by_tag.text
    by_stage = client.get("/members", params={"stage": "user"})
    assert "Tom Ng" in by_stage.text and "Mei Chen" not in by_stage.text

    page = client.get(f"/members/{member_id}")
    assert page.status_code == 200
    for expected in (
        "A-1001",
        "Wool coat",
        "Silk scarf",
        "CN¥599.00",  # en_GB formatting of 59900 fen
        "colour not as pictured",
        "Partly refunded",
        "+8613800138000",
        "vip",
        "Funnel history",
    ):
        assert expected in page.text, expected


def test_notes_and_tags_are_added_and_removed(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    token = csrf_of(page)
    r = client.post(
        f"/members/{member_id}/notes",
        data={"body": "Wants the coat in navy", "channel": "phone", "csrf_token": token},
    )
    assert r.status_code == 200
    assert "Note added." in r.text and "Wants the coat in navy" in r.text
    client.post(f"/members/{member_id}/tags", data={"tags": "vip, coats", "csrf_token": token})
    with sessions() as s:
        assert members.member_tags(s, tenant.merchant_id, member_id) == ["coats", "vip"]
        [note] = members.member_notes(s, tenant.merchant_id, member_id)
        assert (note.channel, note.author, note.body) == (
            "phone",
            "Owner",
            "Wants the coat in navy",
        )
    client.post(f"/members/{member_id}/tags/remove", data={"tag": "vip", "csrf_token": token})
    with sessions() as s:
        assert members.member_tags(s, tenant.merchant_id, member_id) == ["coats"]


def test_consent_recorded_by_staff_with_source(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    sign_in(client, tenant)
    token = csrf_of(client.get(f"/members/{member_id}"))
    r = client.post(
        f"/members/{member_id}/consents",
        data={"channel": "sms", "granted": "true", "csrf_token": token},
    )
    assert r.status_code == 200 and "Subscribed" in r.text
    with sessions() as s:
        owner = s.scalars(select(StaffUser).where(StaffUser.email == tenant.owner_email)).one()
        [row] = members.consents(s, tenant.merchant_id, member_id)
        assert (row.channel, row.granted) == ("sms", True)
        assert row.source == f"dashboard:staff:{owner.id}"
