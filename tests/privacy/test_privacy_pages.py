"""The member page's personal-data card: owner/manager download and erase (typed number, CSRF);
clerks see neither; Chinese labels."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.ledger.verify import verify
from patron.members.models import Member
from patron.privacy.models import MemberErasure
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, seed_member, sign_in, sign_in_as


def _erasures(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MemberErasure)) or 0)


def test_owner_downloads_and_erases_after_typing_the_number(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, first="Mei", last="Chen")
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    assert (
        "Download the member&#39;s data" in page.text or "Download the member's data" in page.text
    )
    assert f"Type the member number {member_id} to confirm" in page.text
    download = client.get(f"/members/{member_id}/export.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        f'attachment; filename="member-{member_id}.json"'
    )
    body = json.loads(download.text)
    assert (body["member"]["first_name"], body["member"]["email"]) == ("Mei", "mei@example.com")
    assert [o["external_id"] for o in body["tables"]["orders"]] == ["A-1001"]

    form = {"csrf_token": csrf_of(page), "confirm": str(member_id + 1), "reason": "asked in store"}
    wrong = client.post(f"/members/{member_id}/erase", data=form)
    assert f"Not erased: type the member number {member_id} to confirm." in wrong.text
    no_csrf = {k: v for k, v in form.items() if k != "csrf_token"} | {"confirm": str(member_id)}
    assert client.post(f"/members/{member_id}/erase", data=no_csrf).status_code == 403
    assert _erasures(sessions) == 0

    done = client.post(f"/members/{member_id}/erase", data=form | {"confirm": str(member_id)})
    assert done.status_code == 200
    assert "The member&#39;s personal data was erased." in done.text
    assert "Mei" not in done.text and "mei@example.com" not in done.text
    assert "personal data was erased on" in done.text and "Reason: asked in store" in done.text
    assert _erasures(sessions) == 1
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member is not None and member.first_name is None and member.erased_at is not None
        assert verify(s, tenant.merchant_id) == []

    client.post(
        "/language",
        data={"locale": "zh_Hans", "next": f"/members/{member_id}", "csrf_token": csrf_of(page)},
    )
    zh = client.get(f"/members/{member_id}")
    assert "该会员的个人信息已于" in zh.text and "删除个人信息" not in zh.text


def test_clerk_sees_no_card_and_cannot_erase(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant)
    theirs = seed_member(sessions, other_tenant, phone="+8613800138111", email="b@example.com")
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    page = client.get(f"/members/{member_id}")
    assert page.status_code == 200 and "Erase personal data" not in page.text
    assert "Download the member" not in page.text
    form = {"csrf_token": csrf_of(page), "confirm": str(member_id), "reason": "x"}
    assert client.post(f"/members/{member_id}/erase", data=form).status_code == 403
    assert client.get(f"/members/{member_id}/export.json").status_code == 403
    owner = TestClient(client.app)
    sign_in(owner, tenant)
    page = owner.get("/members")
    form = {"csrf_token": csrf_of(page), "confirm": str(theirs), "reason": "x"}
    assert owner.post(f"/members/{theirs}/erase", data=form).status_code == 404
    assert owner.get(f"/members/{theirs}/export.json").status_code == 404
    assert _erasures(sessions) == 0
    with sessions() as s:
        assert s.get(Member, theirs).first_name == "Mei"  # type: ignore[union-attr]


def test_erasure_ends_the_portal_session_and_unused_links(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, first="Mei", last="Chen")
    issued = [
        client.post(f"/api/v1/members/{member_id}/portal-link", headers=tenant.clerk_headers)
        for _ in range(2)
    ]
    used, unused = (r.json()["url"].removeprefix("http://127.0.0.1:8000") for r in issued)
    page = client.get(used)
    client.post(used, data={"csrf_token": csrf_of(page)})
    assert "Hello, Mei" in client.get("/portal").text
    erased = client.post(
        f"/api/v1/members/{member_id}/erase", headers=tenant.headers, json={"reason": "asked"}
    )
    assert erased.status_code == 200
    assert erased.json()["counts"]["portal_links"] == 2
    assert client.get("/portal").status_code == 401  # the copied cookie signs in nobody
    assert client.get(unused).status_code in (400, 404)  # the unused link is gone
    again = client.post(f"/api/v1/members/{member_id}/portal-link", headers=tenant.clerk_headers)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "member_not_found")
