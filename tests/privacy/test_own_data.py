"""A member's own data in the portal, on SQLite and PostgreSQL: download it (only theirs,
CSV cells safe, at most three a day) and close the account (erased at once, or queued for staff
while stored value is owed) — ADR 1331."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.members.models import Member
from patron.privacy.models import MemberDataRequest, MemberErasure
from patron.programs import stored_value
from patron.wallet import service as wallet
from patron.wallet.models import WalletPass, WalletRegistration
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in
from tests.web.test_portal_loyalty import _portal


def _download(client: TestClient, fmt: str = "json") -> tuple[int, bytes, dict[str, str]]:
    page = client.get("/portal/profile")
    r = client.post(
        "/portal/profile/data",
        data={"csrf_token": csrf_of(page), "format": fmt},
        follow_redirects=False,
    )
    return r.status_code, r.content, dict(r.headers)


def test_download_holds_only_my_data_and_is_limited_to_three_a_day(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    mine = seed_member(sessions, tenant, order_ref="A-1", first="=2+3", last="Chen")
    seed_member(
        sessions, tenant, order_ref="B-1", first="Zed", last="Other", phone="+8613900139000",
        email="zed@example.com",
    )  # fmt: skip
    seed_member(sessions, other_tenant, order_ref="C-1", first="Yuri", last="Far")
    _portal(client, sessions, tenant, mine, settings)
    status, body, headers = _download(client)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert 'filename="my-data.json"' in headers["content-disposition"]
    document = json.loads(body)
    assert document["member"]["id"] == mine
    assert document["member"]["first_name"] == "=2+3"
    assert [o["external_id"] for o in document["tables"]["orders"]] == ["A-1"]
    text = body.decode()
    for theirs in ("Zed", "zed@example.com", "B-1", "Yuri", "C-1", "+8613900139000"):
        assert theirs not in text
    status, body, headers = _download(client, "zip")
    assert status == 200 and headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert {"data.json", "member.csv", "orders.csv", "order_lines.csv"} <= set(archive.namelist())
    rows = list(csv.reader(io.StringIO(archive.read("member.csv").decode("utf-8-sig"))))
    header, values = rows
    assert values[header.index("first_name")] == "'=2+3"  # not run as a formula
    lines = list(csv.DictReader(io.StringIO(archive.read("order_lines.csv").decode("utf-8-sig"))))
    assert sorted(line["name"] for line in lines) == ["Silk scarf", "Wool coat"]
    assert "Zed" not in archive.read("data.json").decode()
    # The third download of the day is the last.
    assert _download(client)[0] == 200
    status, _body, headers = _download(client)
    assert status == 303 and headers["location"] == "/portal/profile#my-data"
    assert "three times a day" in client.get("/portal/profile").text
    with sessions() as s:
        kinds = s.scalars(
            select(MemberDataRequest.kind).where(MemberDataRequest.member_id == mine)
        ).all()
    assert kinds == ["export", "export", "export"]


def _close(client: TestClient, confirm: str = "yes") -> object:
    page = client.get("/portal/profile/close")
    assert page.status_code == 200
    return client.post(
        "/portal/profile/close",
        data={"csrf_token": csrf_of(page), "confirm": confirm},
        follow_redirects=False,
    )


def test_closing_erases_and_signs_out(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    mine = seed_member(sessions, tenant, order_ref="A-1")
    with transaction(sessions) as s:  # a wallet pass on one phone: erased with the member
        wallet.register(s, wallet.pass_of(s, tenant.merchant_id, mine), "device-1", "f" * 64)
    _portal(client, sessions, tenant, mine, settings)
    refused = _close(client, confirm="")
    assert refused.status_code == 303  # type: ignore[attr-defined]
    with sessions() as s:
        assert s.get(Member, mine).erased_at is None  # type: ignore[union-attr]
    done = _close(client)
    assert done.status_code == 200  # type: ignore[attr-defined]
    assert "Your account is closed" in done.text  # type: ignore[attr-defined]
    assert client.get("/portal", follow_redirects=False).status_code != 200
    with sessions() as s:
        member = s.get(Member, mine)
        assert member is not None and member.erased_at is not None
        assert member.first_name is None and member.phone is None
        erasure = s.scalars(select(MemberErasure)).one()
        assert erasure.actor == f"member:{mine}"
        request = s.scalars(select(MemberDataRequest)).one()
        assert (request.kind, request.status) == ("close", "erased")
        assert s.scalars(select(WalletPass)).all() == []
        assert s.scalars(select(WalletRegistration)).all() == []
    sign_in(client, tenant)
    listed = client.get("/privacy-requests")
    assert f'href="/members/{mine}#privacy"' in listed.text and "Erased" in listed.text
    client.cookies.clear()
    sign_in(client, other_tenant)
    assert f'href="/members/{mine}#privacy"' not in client.get("/privacy-requests").text


def test_closing_with_stored_value_waits_for_staff(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    mine = seed_member(sessions, tenant, order_ref=None)
    with transaction(sessions) as s:
        stored_value.top_up(s, tenant.merchant_id, mine, 10000, "top-up-1", "test")
    _portal(client, sessions, tenant, mine, settings)
    page = client.get("/portal/profile/close")
    assert "CN¥100.00 of stored value" in page.text
    r = _close(client)
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert "pay back your stored value" in client.get("/portal/profile").text  # still signed in
    _close(client)  # asked twice: still one request
    with sessions() as s:
        assert s.get(Member, mine).erased_at is None  # type: ignore[union-attr]
        statuses = s.scalars(select(MemberDataRequest.status)).all()
    assert statuses == ["pending"]
    client.cookies.clear()
    sign_in(client, tenant)
    listed = client.get("/privacy-requests")
    assert "Waiting: stored value to pay back" in listed.text


def test_close_requests_page_is_for_managers(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    from tests.web.helpers import add_staff, sign_in_as

    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    assert client.get("/privacy-requests", follow_redirects=False).status_code in (403, 404)
