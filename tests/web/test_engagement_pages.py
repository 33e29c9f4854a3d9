"""Engagement pages over HTTP, on SQLite and PostgreSQL: segments, messages, settings, portal."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.engagement.segments import service as segments
from patron.engagement.segments.models import Segment
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in

VIP = {"all": [{"field": "tag", "op": "has", "value": "vip"}]}


def _two_members(sessions: sessionmaker[Session], tenant: Tenant) -> tuple[int, int]:
    mei = seed_member(sessions, tenant, tags=["vip"])
    lin = seed_member(
        sessions, tenant, first="Lin", last="Wu", phone="+8613900139000", email=None, order_ref=None
    )
    return mei, lin


def test_segment_list_and_detail_show_service_data(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    with transaction(sessions) as s:
        seg = segments.create_segment(s, tenant.merchant_id, "VIP shoppers", VIP, "big spenders")
        seg_id = seg.id
    sign_in(client, tenant)
    page = client.get("/segments")
    assert page.status_code == 200
    assert "VIP shoppers" in page.text and "big spenders" in page.text
    assert f'href="/segments/{seg_id}"' in page.text
    detail = client.get(f"/segments/{seg_id}")
    assert detail.status_code == 200
    assert f'href="/members/{mei}"' in detail.text and "Mei Chen" in detail.text
    assert "Lin Wu" not in detail.text
    assert "tag has vip" in detail.text


def test_live_count_is_exact_and_needs_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _two_members(sessions, tenant)
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments/new"))
    body = {"join": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}
    r = client.post("/segments/preview", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert r.json() == {"count": 1, "time_relative": False}
    body = {
        "join": "any",
        "rules": [*body["rules"], {"field": "orders_count", "op": "eq", "value": "0"}],
    }
    r = client.post("/segments/preview", json=body, headers={"X-CSRF-Token": token})
    assert r.json()["count"] == 2
    refused = client.post("/segments/preview", json=body)
    assert refused.status_code == 403
    bad = {"join": "all", "rules": [{"field": "shoe_size", "op": "eq", "value": "9"}]}
    r = client.post("/segments/preview", json=bad, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "unknown field 'shoe_size'" in r.json()["error"]


def test_builder_count_button_and_save_without_js(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    _two_members(sessions, tenant)
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments/new"))
    form = {
        "csrf_token": token,
        "name": "VIP",
        "join": "all",
        "field": ["tag"],
        "op": ["has"],
        "value": ["vip"],
    }
    counted = client.post("/segments/save", data={**form, "action": "count"})
    assert counted.status_code == 200
    assert '<strong class="v" id="live-count">1</strong>' in counted.text
    added = client.post("/segments/save", data={**form, "action": "add"})
    assert added.text.count('class="rule-row"') == 2
    bad = client.post(
        "/segments/save",
        data={
            **form,
            "field": ["tag", "orders_count"],
            "op": ["has", "has"],
            "value": ["vip", "3"],
            "action": "save",
        },
    )
    assert bad.status_code == 422
    assert "field &#39;orders_count&#39; takes op" in bad.text
    assert 'id="rule-error"' in bad.text
    assert db.scalar(select(func.count()).select_from(Segment)) == 0
    saved = client.post("/segments/save", data={**form, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    db.rollback()
    seg = db.scalars(select(Segment)).one()
    assert (seg.name, seg.rules, seg.member_count) == ("VIP", VIP, 1)
    assert saved.headers["location"] == f"/segments/{seg.id}"


def test_other_merchant_gets_404_for_a_segment(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as s:
        seg_id = segments.create_segment(s, tenant.merchant_id, "VIP", VIP).id
    sign_in(client, other_tenant)
    assert client.get(f"/segments/{seg_id}").status_code == 404
    assert client.get(f"/segments/{seg_id}/edit").status_code == 404
    token = csrf_of(client.get("/segments"))
    r = client.post(f"/segments/{seg_id}/refresh", data={"csrf_token": token})
    assert r.status_code == 404
