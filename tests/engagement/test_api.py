"""The engagement API: channel settings, policy, templates (checked on save), preview,
message log and tenancy."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.engagement.messages import enqueue_message
from patron.engagement.models import MessageTemplate
from tests.conftest import Tenant
from tests.engagement.conftest import add_member

EMAIL = {
    "en": {
        "subject": "Hi {{ member.first_name }}",
        "html": "<p>{{ tier.name }}</p>",
        "text": "{{ balance.points }} points",
    },
    "zh_Hans": {
        "subject": "{{ member.first_name }}您好",
        "html": "<p>{{ tier.name }}</p>",
        "text": "{{ balance.points }} 积分",
    },
}


def _count_templates(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MessageTemplate)) or 0)


def test_template_with_unknown_variable_is_refused_when_saved(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    for bad, name in (
        ({"en": {"body": "Hi {{ membr.first_name }}"}}, "membr"),
        ({"en": {"body": "Hi {{ member.nickname }}"}}, "member.nickname"),
        ({"en": {"body": "Hi {{ coupon['secret'] }}"}}, "coupon.secret"),
    ):
        r = client.post(
            "/api/v1/templates",
            headers=tenant.headers,
            json={"name": "t", "channel": "sms", "variants": bad},
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "unknown_template_variable"
        assert r.json()["error"]["details"]["variables"] == [name]
    r = client.post(
        "/api/v1/templates",
        headers=tenant.headers,
        json={"name": "t", "channel": "sms", "variants": {"en": {"body": "{% if %}"}}},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_template")
    r = client.post(
        "/api/v1/templates",
        headers=tenant.headers,
        json={"name": "t", "channel": "sms", "variants": {"fr": {"body": "x"}}},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "unsupported_locale")
    r = client.post(
        "/api/v1/templates",
        headers=tenant.headers,
        json={"name": "t", "channel": "email", "variants": {"en": {"subject": "x"}}},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_template")
    assert _count_templates(sessions) == 0


def test_template_crud_preview_and_tenancy(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    created = client.post(
        "/api/v1/templates",
        headers=tenant.headers,
        json={"name": "tier-up", "channel": "email", "variants": EMAIL},
    )
    assert created.status_code == 201
    tid = created.json()["id"]
    assert (
        client.post(
            "/api/v1/templates",
            headers=tenant.headers,
            json={"name": "tier-up", "channel": "email", "variants": EMAIL},
        ).status_code
        == 409
    )
    member = add_member(sessions, tenant.merchant_id, first_name="Wei", locale="zh_Hans_CN")

    preview = client.post(
        f"/api/v1/templates/{tid}/preview",
        headers=tenant.headers,
        json={
            "member_id": member,
            "context": {"tier": {"name": "Gold"}, "balance": {"points": 1200}},
        },
    )
    assert preview.status_code == 200
    assert preview.json() == {
        "locale": "zh_Hans",
        "rendered": {"subject": "Wei您好", "html": "<p>Gold</p>", "text": "1200 积分"},
    }
    english = client.post(
        f"/api/v1/templates/{tid}/preview",
        headers=tenant.headers,
        json={
            "member_id": member,
            "locale": "en",
            "context": {"tier": {"name": "<b>Gold</b>"}, "balance": {"points": 5}},
        },
    )
    assert english.json()["rendered"]["html"] == "<p>&lt;b&gt;Gold&lt;/b&gt;</p>"
    missing = client.post(
        f"/api/v1/templates/{tid}/preview", headers=tenant.headers, json={"member_id": member}
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "render_error")

    patched = client.patch(
        f"/api/v1/templates/{tid}",
        headers=tenant.headers,
        json={"variants": {"en": {"subject": "{{ nope }}", "html": "", "text": ""}}},
    )
    assert patched.status_code == 422
    assert (
        client.get(f"/api/v1/templates/{tid}", headers=tenant.headers).json()["variants"] == EMAIL
    )

    # Another merchant sees none of it.
    assert client.get(f"/api/v1/templates/{tid}", headers=other_tenant.headers).status_code == 404
    assert client.get("/api/v1/templates", headers=other_tenant.headers).json()["items"] == []
    assert (
        client.post(
            f"/api/v1/templates/{tid}/preview",
            headers=other_tenant.headers,
            json={"member_id": member},
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/templates/{tid}", headers=tenant.clerk_headers).status_code == 403
    )
    assert client.delete(f"/api/v1/templates/{tid}", headers=tenant.headers).status_code == 204


def test_channel_settings_never_return_secrets(client: TestClient, tenant: Tenant) -> None:
    body = {
        "base_url": "http://127.0.0.1:9",
        "credentials": {
            "account_sid": "AC1",
            "auth_token": "s3cret",
            "from_number": "+15550001111",
        },
    }
    put = client.put("/api/v1/channels/sms", headers=tenant.headers, json=body)
    assert put.status_code == 200
    assert "s3cret" not in put.text
    listed = client.get("/api/v1/channels", headers=tenant.headers)
    assert listed.json()[0]["credential_keys"] == ["account_sid", "auth_token", "from_number"]
    assert "s3cret" not in listed.text
    assert (
        client.put("/api/v1/channels/pigeon", headers=tenant.headers, json=body).json()["error"][
            "code"
        ]
        == "unknown_channel"
    )
    assert client.get("/api/v1/channels", headers=tenant.clerk_headers).status_code == 403


def test_policy_defaults_and_update(client: TestClient, tenant: Tenant) -> None:
    assert client.get("/api/v1/engagement/policy", headers=tenant.headers).json() == {
        "cap_messages": 2,
        "cap_window_days": 7,
        "care_cap_messages": 2,
        "quiet_hours_enabled": True,
        "quiet_start": "21:00",
        "quiet_end": "09:00",
    }
    new = {
        "cap_messages": 3,
        "cap_window_days": 14,
        "care_cap_messages": 1,
        "quiet_hours_enabled": True,
        "quiet_start": "22:00",
        "quiet_end": "08:30",
    }
    assert client.put("/api/v1/engagement/policy", headers=tenant.headers, json=new).json() == new
    assert client.get("/api/v1/engagement/policy", headers=tenant.headers).json() == new
    bad = client.put(
        "/api/v1/engagement/policy", headers=tenant.headers, json={**new, "quiet_start": "25:99"}
    )
    assert bad.status_code == 422
    negative = client.put(
        "/api/v1/engagement/policy", headers=tenant.headers, json={**new, "care_cap_messages": -1}
    )
    assert negative.status_code == 422
    assert client.get("/api/v1/engagement/policy", headers=tenant.headers).json() == new


def test_message_log_filters_and_tenancy(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    a = add_member(sessions, tenant.merchant_id)
    b = add_member(sessions, tenant.merchant_id)
    content = {"en": {"title": "T", "body": "B"}}
    with transaction(sessions) as s:
        ids = [
            enqueue_message(
                s,
                tenant.merchant_id,
                m,
                "in_app",
                content=content,
                topic="news",
                kind="care",
                dedupe_key=f"k{m}",
            ).id
            for m in (a, b)
        ]
    page = client.get(f"/api/v1/messages?member_id={a}", headers=tenant.clerk_headers).json()
    assert [m["id"] for m in page["items"]] == [ids[0]]
    one = client.get("/api/v1/messages?limit=1", headers=tenant.headers).json()
    assert ([m["id"] for m in one["items"]], one["next_cursor"]) == ([ids[1]], ids[1])
    detail = client.get(f"/api/v1/messages/{ids[0]}", headers=tenant.headers).json()
    assert (detail["status"], detail["dedupe_key"], detail["events"]) == ("queued", f"k{a}", [])
    assert client.get(f"/api/v1/messages/{ids[0]}", headers=other_tenant.headers).status_code == 404
    assert client.get("/api/v1/messages", headers=other_tenant.headers).json()["items"] == []
    assert client.get("/api/v1/messages").status_code == 401
