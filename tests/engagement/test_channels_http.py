"""SMS, WhatsApp and WeChat adapters against the local provider servers, with callbacks."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.channels.sms import inbound_opt
from patron.engagement.config import MessageSettings
from patron.engagement.messages import enqueue_message
from patron.members.models import ConsentChange, MemberConsent, MemberIdentity
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, configure, dispatch, events, grant, message
from tests.engagement.providers import ProviderServer

SMS = {"en": {"body": "Hi {{ member.first_name }}, {{ coupon.code }} saves you 10%"}}
WA = {
    "en": {
        "template_name": "spring_sale",
        "language": "en_US",
        "parameters": ["{{ member.first_name }}", "{{ coupon.code }}"],
    },
    "zh_Hans": {
        "template_name": "spring_sale",
        "language": "zh_CN",
        "parameters": ["{{ member.first_name }}", "{{ coupon.code }}"],
    },
}
WECHAT = {
    "en": {
        "template_id": "TPL-123",
        "url": "https://shop.example/c",
        "data": {"first": "Hi {{ member.first_name }}", "keyword1": "{{ coupon.code }}"},
    }
}
CONTEXT = {"coupon": {"code": "SPRING10"}}


def _sms_setup(
    sessions: sessionmaker[Session], tenant: Tenant, providers: ProviderServer, **extra: Any
) -> int:
    state = providers.state
    configure(
        sessions,
        tenant.merchant_id,
        "sms",
        {
            "account_sid": state.sid,
            "auth_token": state.auth_token,
            "from_number": "+15550001111",
            **extra,
        },
        base_url=providers.base_url,
    )
    member = add_member(sessions, tenant.merchant_id, first_name="Ann", phone="+8613800138000")
    grant(sessions, tenant.merchant_id, member, "sms", "promotions")
    return member


def _enqueue(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    member: int,
    channel: str,
    content: dict[str, Any],
    key: str,
    kind: str = "marketing",
) -> int:
    with transaction(sessions) as s:
        return enqueue_message(
            s,
            tenant.merchant_id,
            member,
            channel,
            content=content,
            topic="promotions",
            kind=kind,
            dedupe_key=key,
            context=CONTEXT,
        ).id


def test_sms_send_and_status_callbacks(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    member = _sms_setup(sessions, tenant, providers)
    ok, bad = (_enqueue(sessions, tenant, member, "sms", SMS, k) for k in ("s1", "s2"))
    dispatch(sessions, settings, cfg)

    sent = providers.state.sms
    assert [(m["To"], m["From"], m["Body"]) for m in sent] == [
        ("+8613800138000", "+15550001111", "Hi Ann, SPRING10 saves you 10%")
    ] * 2
    assert sent[0]["StatusCallback"] == (
        f"{settings.base_url}/api/v1/callbacks/sms/{tenant.merchant_id}?ref={ok}"
    )
    assert message(sessions, ok).provider_message_id == sent[0]["sid"]
    assert sent[0]["idempotency_key"].startswith(f"patron-{tenant.merchant_id}-")

    assert providers.sms_status(sent[0]["sid"], "sent") == 200
    assert providers.sms_status(sent[0]["sid"], "delivered") == 200
    assert providers.sms_status(sent[1]["sid"], "undelivered", error_code="30003") == 200
    assert message(sessions, ok).status == "delivered"
    failed = message(sessions, bad)
    assert (failed.status, failed.status_reason) == ("failed", "30003")
    # A late "sent" never moves a delivered message back.
    providers.sms_status(sent[0]["sid"], "sent")
    assert message(sessions, ok).status == "delivered"
    assert [e[0] for e in events(sessions, ok)] == ["sent", "delivered"]


def test_sms_stop_revokes_consent_and_bad_signature_is_refused(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
    client: TestClient,
) -> None:
    member = _sms_setup(sessions, tenant, providers)
    url = f"{settings.base_url}/api/v1/callbacks/sms/{tenant.merchant_id}"
    forged = providers._signed_form(
        url, {"From": "+8613800138000", "Body": "STOP"}, token="not-the-token"
    )
    assert forged == 403
    with sessions() as s:
        assert (
            s.scalars(select(MemberConsent.topic).where(MemberConsent.granted.is_(False))).all()
            == []
        )

    assert providers.sms_inbound(url, "+8613800138000", "stop") == 200
    with sessions() as s:
        revoked = s.scalars(select(MemberConsent).where(MemberConsent.topic == "*")).one()
        assert (revoked.channel, revoked.granted, revoked.source) == ("sms", False, "sms:STOP")
    later = _enqueue(sessions, tenant, member, "sms", SMS, "after-stop", kind="transactional")
    dispatch(sessions, settings, cfg)
    assert (message(sessions, later).status, message(sessions, later).status_reason) == (
        "skipped",
        "consent",
    )
    assert providers.state.sms == []

    # START (Twilio's opt-in keyword) lifts the block; a second START changes nothing.
    assert providers.sms_inbound(url, "+8613800138000", " start ") == 200
    assert providers.sms_inbound(url, "+8613800138000", "START") == 200
    with sessions() as s:
        history = s.execute(
            select(ConsentChange.granted, ConsentChange.source)
            .where(ConsentChange.topic == "*")
            .order_by(ConsentChange.id)
        ).all()
        assert [tuple(h) for h in history] == [(False, "sms:STOP"), (True, "sms:START")]
    again = _enqueue(sessions, tenant, member, "sms", SMS, "after-start", kind="transactional")
    dispatch(sessions, settings, cfg)
    assert message(sessions, again).status == "sent"
    assert len(providers.state.sms) == 1


def test_sms_timeout_is_unknown_then_reconciled(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    member = _sms_setup(
        sessions, tenant, providers, timeout_seconds=0.3, honours_idempotency_key=True
    )
    providers.state.delay_seconds = 0.8
    first = _enqueue(sessions, tenant, member, "sms", SMS, "slow-1")
    dispatch(sessions, settings, cfg)
    unknown = message(sessions, first)
    assert (unknown.status, unknown.provider_message_id, unknown.attempts) == ("unknown", None, 1)
    time.sleep(0.8)  # the provider did take it, after our timeout
    assert len(providers.state.sms) == 1

    # Before the grace period ends nothing is resent; after it, the resend carries the same
    # idempotency key, so the provider answers with the same message instead of a new one.
    providers.state.delay_seconds = 0
    dispatch(sessions, settings, cfg)
    assert message(sessions, first).status == "unknown"
    clock.advance(timedelta(seconds=61))
    dispatch(sessions, settings, cfg)
    resolved = message(sessions, first)
    assert (resolved.status, resolved.attempts) == ("sent", 2)
    assert resolved.provider_message_id == providers.state.sms[0]["sid"]
    assert len(providers.state.sms) == 1


def test_unknown_resolved_by_status_callback(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    member = _sms_setup(sessions, tenant, providers, timeout_seconds=0.3)
    providers.state.delay_seconds = 0.8
    first = _enqueue(sessions, tenant, member, "sms", SMS, "slow-2")
    dispatch(sessions, settings, cfg)
    assert message(sessions, first).status == "unknown"
    time.sleep(0.8)
    # The callback URL carries our reference: the provider's report settles the unknown.
    assert providers.sms_status(providers.state.sms[0]["sid"], "delivered") == 200
    settled = message(sessions, first)
    assert (settled.status, settled.provider_message_id) == (
        "delivered",
        providers.state.sms[0]["sid"],
    )


def test_retries_with_backoff_then_dead_then_manual_retry(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
    client: TestClient,
) -> None:
    member = _sms_setup(sessions, tenant, providers)
    providers.state.fail_next = 3
    first = _enqueue(sessions, tenant, member, "sms", SMS, "flaky")
    dispatch(sessions, settings, cfg)
    retrying = message(sessions, first)
    assert (retrying.status, retrying.attempts) == ("queued", 1)
    assert retrying.not_before == clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=30))
    dispatch(sessions, settings, cfg)
    assert message(sessions, first).not_before == clock.now() + timedelta(seconds=60)
    clock.advance(timedelta(seconds=60))
    dispatch(sessions, settings, cfg)
    dead = message(sessions, first)
    assert (dead.status, dead.attempts) == ("dead", 3)

    letters = client.get("/api/v1/messages?status=dead", headers=tenant.headers).json()
    assert [m["id"] for m in letters["items"]] == [first]
    retried = client.post(f"/api/v1/messages/{first}/retry", headers=tenant.headers)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["generation"]) == ("queued", 1)
    dispatch(sessions, settings, cfg)
    assert message(sessions, first).status == "sent"
    assert len(providers.state.sms) == 1
    again = client.post(f"/api/v1/messages/{first}/retry", headers=tenant.headers)
    assert again.status_code == 422 and again.json()["error"]["code"] == "message_not_retryable"


def test_whatsapp_template_message_and_webhooks(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
    client: TestClient,
) -> None:
    state = providers.state
    configure(
        sessions,
        tenant.merchant_id,
        "whatsapp",
        {
            "phone_number_id": state.wa_phone_id,
            "access_token": state.wa_token,
            "app_secret": state.wa_app_secret,
            "verify_token": "vt-1",
        },
        base_url=providers.base_url,
    )
    ann = add_member(
        sessions, tenant.merchant_id, first_name="Ann", phone="+8613800138000", locale="zh_Hans"
    )
    bob = add_member(sessions, tenant.merchant_id, first_name="Bob", phone="+4915112345678")
    for m in (ann, bob):
        grant(sessions, tenant.merchant_id, m, "whatsapp", "promotions")
    first, second = (_enqueue(sessions, tenant, m, "whatsapp", WA, f"wa{m}") for m in (ann, bob))
    dispatch(sessions, settings, cfg)

    sent = state.whatsapp
    assert sent[0]["to"] == "8613800138000"
    assert sent[0]["template"] == {
        "name": "spring_sale",
        "language": {"code": "zh_CN"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ann"},
                    {"type": "text", "text": "SPRING10"},
                ],
            }
        ],
    }
    assert sent[1]["template"]["language"] == {"code": "en_US"}
    assert message(sessions, first).provider_message_id == sent[0]["id"]

    url = f"{settings.base_url}/api/v1/callbacks/whatsapp/{tenant.merchant_id}"
    assert providers.whatsapp_status(url, sent[0]["id"], "delivered", secret="wrong") == 403
    assert message(sessions, first).status == "sent"
    assert providers.whatsapp_status(url, sent[0]["id"], "delivered") == 200
    assert providers.whatsapp_status(url, sent[0]["id"], "read") == 200
    assert providers.whatsapp_status(url, sent[1]["id"], "failed") == 200
    assert message(sessions, first).status == "read"
    assert (message(sessions, second).status, message(sessions, second).status_reason) == (
        "failed",
        "Message undeliverable",
    )

    path = f"/api/v1/callbacks/whatsapp/{tenant.merchant_id}"
    ok = client.get(
        path,
        params={"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert (
        client.get(
            path, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
        ).status_code
        == 403
    )


def test_wechat_template_message_token_cache_and_events(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    providers: ProviderServer,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    state = providers.state
    configure(
        sessions,
        tenant.merchant_id,
        "wechat",
        {"appid": state.wechat_appid, "secret": state.wechat_secret, "token": state.wechat_token},
        base_url=providers.base_url,
    )
    members = [add_member(sessions, tenant.merchant_id, first_name=n) for n in ("Ann", "Bob")]
    with transaction(sessions) as s:
        for i, m in enumerate(members):
            s.add(
                MemberIdentity(
                    merchant_id=tenant.merchant_id,
                    member_id=m,
                    kind="external",
                    namespace="wechat",
                    value=f"oOPENID{i}",
                    created_at=s.info["clock"].now(),
                )
            )
    for m in members:
        grant(sessions, tenant.merchant_id, m, "wechat", "promotions")
    ids = [_enqueue(sessions, tenant, m, "wechat", WECHAT, f"wx{m}") for m in members]
    dispatch(sessions, settings, cfg)

    assert state.token_fetches == 1  # cached between the two sends
    assert [(w["touser"], w["template_id"], w["data"]) for w in state.wechat] == [
        ("oOPENID0", "TPL-123", {"first": {"value": "Hi Ann"}, "keyword1": {"value": "SPRING10"}}),
        ("oOPENID1", "TPL-123", {"first": {"value": "Hi Bob"}, "keyword1": {"value": "SPRING10"}}),
    ]
    assert message(sessions, ids[0]).provider_message_id == str(state.wechat[0]["msgid"])

    url = f"{settings.base_url}/api/v1/callbacks/wechat/{tenant.merchant_id}"
    assert (
        providers.wechat_job_finished(url, "oOPENID0", state.wechat[0]["msgid"], "success") == 200
    )
    assert (
        providers.wechat_job_finished(
            url, "oOPENID1", state.wechat[1]["msgid"], "failed:user block"
        )
        == 200
    )
    assert message(sessions, ids[0]).status == "delivered"
    assert (message(sessions, ids[1]).status, message(sessions, ids[1]).status_reason) == (
        "failed",
        "failed:user block",
    )

    # A token the provider no longer accepts is fetched again once, then the send goes through.
    state.access_tokens.clear()
    third = _enqueue(sessions, tenant, members[0], "wechat", WECHAT, "wx-3", kind="care")
    dispatch(sessions, settings, cfg)
    assert (message(sessions, third).status, state.token_fetches) == ("sent", 2)


def test_sms_inbound_keywords_and_advanced_opt_out() -> None:
    assert [inbound_opt({"Body": w}) for w in ("stop", "Unsubscribe", "退订", "TD")] == ["stop"] * 4
    assert [inbound_opt({"Body": w}) for w in ("start", "YES", "unstop")] == ["start"] * 3
    assert inbound_opt({"Body": "please stop"}) is None  # only the single keyword counts
    assert inbound_opt({"Body": "HELP"}) is None
    # Twilio Advanced Opt-Out names the kind itself (merchant-configured keywords).
    assert inbound_opt({"Body": "ARRET", "OptOutType": "STOP"}) == "stop"
    assert inbound_opt({"Body": "RESUME", "OptOutType": "START"}) == "start"
    assert inbound_opt({"Body": "AIDE", "OptOutType": "HELP"}) is None
