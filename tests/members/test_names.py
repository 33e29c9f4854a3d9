"""Names in the order of their script (defect 7 of issue 10): family name first, no space, for
Chinese and Japanese; family name first with a space for Korean; given name first otherwise."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.members.names import display_name, greeting_name
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in


@pytest.mark.parametrize(
    ("given", "family", "shown", "greeted"),
    [
        ("悦", "周", "周悦", "周悦"),
        ("芳", "王", "王芳", "王芳"),
        ("欧阳", "娜娜", "娜娜欧阳", "娜娜欧阳"),
        ("花子", "山田", "山田花子", "山田花子"),
        ("はなこ", "やまだ", "やまだはなこ", "やまだはなこ"),
        ("민수", "김", "김 민수", "김 민수"),
        ("Carol", "Smith", "Carol Smith", "Carol"),
        ("José", "Núñez", "José Núñez", "José"),
        ("悦", None, "悦", "悦"),
        (None, "周", "周", "周"),
        ("Carol", None, "Carol", "Carol"),
        (None, "Smith", "Smith", "Smith"),
        (" 悦 ", " 周 ", "周悦", "周悦"),
        ("Wei", "周", "周 Wei", "周 Wei"),
        (None, None, "", ""),
        ("", "  ", "", ""),
    ],
)
def test_name_order_follows_the_script(
    given: str | None, family: str | None, shown: str, greeted: str
) -> None:
    assert display_name(given, family) == shown
    assert greeting_name(given, family) == greeted


def _chinese_member(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    return seed_member(
        sessions,
        tenant,
        first="悦",
        last="周",
        phone="+8613900139000",
        email=None,
        locale="zh_Hans",
    )


def test_api_display_name_family_first(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = _chinese_member(sessions, tenant)
    body = client.get(f"/api/v1/members/{member_id}", headers=tenant.headers).json()
    assert (body["first_name"], body["last_name"], body["display_name"]) == ("悦", "周", "周悦")


def test_dashboard_shows_family_name_first(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = _chinese_member(sessions, tenant)
    sign_in(client, tenant)
    for path in (f"/members/{member_id}", "/members", f"/members/{member_id}/statement"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "周悦" in page.text, path
        assert "悦 周" not in page.text, path


def test_portal_greets_a_chinese_member_by_full_name(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = _chinese_member(sessions, tenant)
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    path = issued.url.removeprefix(settings.base_url)
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    home = client.get("/portal")
    assert "周悦，您好" in home.text
    assert "悦，您好" not in home.text.replace("周悦，您好", "")
    assert "悦 周" not in home.text
    assert "悦 周" not in client.get("/portal/profile").text
