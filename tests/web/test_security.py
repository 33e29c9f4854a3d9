"""CSRF, tenancy and headers of the pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.members import service as members
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in


def _notes(sessions: sessionmaker[Session], tenant: Tenant, member_id: int) -> list[str]:
    with sessions() as s:
        return [n.body for n in members.member_notes(s, tenant.merchant_id, member_id)]


def test_post_without_or_with_wrong_csrf_token_is_403_and_changes_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    sign_in(client, tenant)
    token = csrf_of(client.get(f"/members/{member_id}"))
    url = f"/members/{member_id}/notes"
    for data in (
        {"body": "forged", "channel": "phone"},
        {"body": "forged", "channel": "phone", "csrf_token": token[:-2] + "xx"},
        {"body": "forged", "channel": "phone", "csrf_token": ""},
    ):
        r = client.post(url, data=data)
        assert r.status_code == 403
        assert "This form has expired" in r.text
    assert _notes(sessions, tenant, member_id) == []
    # A foreign Origin is refused even with the right token.
    r = client.post(
        url,
        data={"body": "forged", "channel": "phone", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert _notes(sessions, tenant, member_id) == []
    ok = client.post(
        url,
        data={"body": "real", "channel": "phone", "csrf_token": token},
        headers={"Origin": "http://testserver"},
    )
    assert ok.status_code == 200
    assert _notes(sessions, tenant, member_id) == ["real"]


def test_login_form_needs_csrf_too(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/login",
        data={"email": tenant.owner_email, "password": tenant.owner_password},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_api_is_not_subject_to_page_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    r = client.post(f"/api/v1/members/{member_id}/portal-link", headers=tenant.clerk_headers)
    assert r.status_code == 201


def test_staff_of_b_get_404_for_a_members(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    a_member = seed_member(sessions, tenant)
    sign_in(client, other_tenant)
    page = client.get(f"/members/{a_member}")
    assert page.status_code == 404
    assert "Page not found" in page.text and "Mei" not in page.text
    assert "Mei Chen" not in client.get("/members", params={"q": "Mei"}).text
    token = csrf_of(client.get("/members"))
    for path, data in (
        (f"/members/{a_member}/notes", {"body": "x", "channel": "phone"}),
        (f"/members/{a_member}/tags", {"tags": "spy"}),
        (f"/members/{a_member}/tags/remove", {"tag": "vip"}),
        (f"/members/{a_member}/consents", {"channel": "sms", "granted": "true"}),
        (f"/members/{a_member}/portal-link", {}),
    ):
        r = client.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 404, path
    assert _notes(sessions, tenant, a_member) == []
    with sessions() as s:
        assert members.member_tags(s, tenant.merchant_id, a_member) == []
        assert members.consents(s, tenant.merchant_id, a_member) == []


def test_security_headers_and_error_pages(client: TestClient, tenant: Tenant) -> None:
    r = client.get("/login")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text
    api_missing = client.get("/api/v1/no-such-thing")
    assert api_missing.status_code == 404 and api_missing.json()["error"]["code"] == "not_found"
    css = client.get("/static/css/patron.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_logout_ends_the_staff_session(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    token = csrf_of(client.get("/dashboard"))
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
