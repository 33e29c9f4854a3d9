"""The stores pages: the joined-online figure, join links and printable QR codes, by role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.portal.models import MemberJoin
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.portal.helpers import emailed_code, enter_code, join_path, post_form, staff_id, use_email
from tests.web.helpers import add_staff, sign_in, sign_in_as

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def test_manager_prints_every_code_and_a_clerk_only_their_own(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    clerk_email, clerk_password = add_staff(sessions, tenant, "clerk")
    manager_email, manager_password = add_staff(sessions, tenant, "manager")
    clerk, manager = staff_id(sessions, clerk_email), staff_id(sessions, manager_email)
    store = f"/stores/{tenant.store_id}"

    assert client.get(f"{store}/join-qr.svg", follow_redirects=False).status_code == 303

    sign_in_as(client, manager_email, manager_password)
    page = client.get(store)
    assert page.status_code == 200 and "/portal/alpha/join/" in page.text
    svg = client.get(f"{store}/join-qr.svg?src=spring")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "Main street" in svg.text
    png = client.get(f"{store}/join-qr.png?staff={clerk}")
    assert png.status_code == 200 and png.content.startswith(PNG)
    assert png.headers["content-type"] == "image/png"
    # Another merchant's store or staff member: not found.
    assert client.get(f"/stores/{other_tenant.store_id}/join-qr.svg").status_code == 404
    assert client.get(f"/stores/{other_tenant.store_id}").status_code == 404
    assert client.get(f"{store}/join-qr.gif").status_code == 404

    client.cookies.clear()
    sign_in_as(client, clerk_email, clerk_password)
    mine = client.get(store)
    assert mine.status_code == 200 and "store-join-link" not in mine.text
    assert client.get(f"{store}/join-qr.png?staff={clerk}").status_code == 200
    assert client.get(f"{store}/join-qr.svg").status_code == 403
    assert client.get(f"{store}/join-qr.svg?staff={manager}").status_code == 403


def test_the_stores_figure_counts_the_members_who_joined_there(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    for n, store_id in enumerate([tenant.store_id, tenant.store_id, tenant.online_store_id]):
        visitor = TestClient(client.app)
        path = join_path(sessions, settings, tenant, store_id=store_id)
        post_form(visitor, path, {"contact": f"m{n}@example.com", "first_name": f"M{n}"})
        assert enter_code(visitor, "alpha", emailed_code(smtp)).status_code == 303
    sign_in(client, tenant)
    page = client.get("/stores")
    with sessions() as s:
        rows = dict(
            s.execute(select(MemberJoin.store_id, func.count()).group_by(MemberJoin.store_id)).all()
        )
    assert rows == {tenant.store_id: 2, tenant.online_store_id: 1}
    assert f'data-testid="joined-{tenant.store_id}">2<' in page.text
    assert f'data-testid="joined-{tenant.online_store_id}">1<' in page.text
    detail = client.get(f"/stores/{tenant.store_id}")
    assert 'data-testid="joined-online">2<' in detail.text
