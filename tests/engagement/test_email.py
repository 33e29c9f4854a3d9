"""Real email through SMTP to aiosmtpd on loopback: headers, parts, unsubscribe, tracking."""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email.parser import BytesParser
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.channels.base import Credentials, Outgoing
from patron.engagement.channels.email import email_bytes, message_id_header
from patron.engagement.config import MessageSettings
from patron.engagement.messages import enqueue_message
from patron.engagement.models import Message
from patron.engagement.preparation import idempotency_key
from patron.members.models import ConsentChange, MemberConsent
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, configure, dispatch, events, grant, message
from tests.engagement.providers import SmtpSink

VARIANTS = {
    "en": {
        "subject": "{{ member.first_name }}, {{ coupon.title }} inside",
        "html": (
            "<html><body><p>Hi {{ member.first_name }}</p><p>{{ product.name }}</p>"
            '<a href="https://shop.example/spring?x=1">Shop</a>'
            '<a href="{{ links.unsubscribe }}">Unsubscribe</a></body></html>'
        ),
        "text": "Hi {{ member.first_name }}, use {{ coupon.code }}. Stop: {{ links.unsubscribe }}",
    },
    "zh_Hans": {
        "subject": "{{ member.first_name }}，您的{{ coupon.title }}",
        "html": "<html><body><p>您好 {{ member.first_name }}</p></body></html>",
        "text": "您好 {{ member.first_name }}",
    },
}


def _setup(sessions: sessionmaker[Session], tenant: Tenant, smtp: SmtpSink) -> tuple[int, int]:
    configure(sessions, tenant.merchant_id, "email", smtp.credentials)
    member_id = add_member(sessions, tenant.merchant_id, first_name="Mei", email="mei@example.com")
    grant(sessions, tenant.merchant_id, member_id, "email", "promotions")
    with transaction(sessions) as s:
        template = library.create_template(s, tenant.merchant_id, "spring", "email", VARIANTS)
        return member_id, template.id


def _enqueue(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, template_id: int, key: str
) -> int:
    with transaction(sessions) as s:
        return enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "email",
            template_id=template_id,
            topic="promotions",
            kind="marketing",
            dedupe_key=key,
            context={
                "coupon": {"code": "SPRING10", "title": "10% off"},
                "product": {"name": "Tea & <Cake>"},
            },
        ).id


def test_email_reaches_smtp_with_headers_parts_and_links(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    smtp: SmtpSink,
    settings: Settings,
    cfg: MessageSettings,
    client: TestClient,
) -> None:
    member_id, template_id = _setup(sessions, tenant, smtp)
    first = _enqueue(sessions, tenant, member_id, template_id, "spring-2026:1")

    assert dispatch(sessions, settings, cfg) == 1

    m = message(sessions, first)
    assert len(smtp.messages) == 1, (m.status, m.status_reason, m.last_error)
    mail = smtp.messages[0]
    expected_id = message_id_header(
        idempotency_key(tenant.merchant_id, "spring-2026:1", 0), "news@alpha.test"
    )
    assert mail["From"] == "Alpha Tea <news@alpha.test>"
    assert mail["To"] == "mei@example.com"
    assert mail["Subject"] == "Mei, 10% off inside"
    assert mail["Message-ID"] == expected_id
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(.+)>", str(mail["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    assert unsubscribe.startswith(settings.base_url + "/u/")
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text == f"Hi Mei, use SPRING10. Stop: {unsubscribe}\n"
    assert "<p>Hi Mei</p><p>Tea &amp; &lt;Cake&gt;</p>" in html  # autoescaped
    assert f'href="{unsubscribe}"' in html  # the unsubscribe link is not click-tracked
    assert "https://shop.example/spring" not in html  # every other link is
    sent = message(sessions, first)
    assert (sent.status, sent.provider_message_id, sent.attempts) == ("sent", expected_id, 1)

    # The open pixel and the click redirect record events.
    pixel = re.search(r'<img src="([^"]+/t/o/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    click = re.search(r'href="([^"]+/t/c/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    opened = client.get(urlsplit(pixel).path)
    assert (opened.status_code, opened.headers["content-type"]) == (200, "image/gif")
    followed = client.get(urlsplit(click).path, follow_redirects=False)
    assert (followed.status_code, followed.headers["location"]) == (
        302,
        "https://shop.example/spring?x=1",
    )
    assert [e[0] for e in events(sessions, first)] == ["sent", "opened", "clicked"]
    tracked = message(sessions, first)
    assert tracked.opened_at is not None and tracked.clicked_at is not None
    assert client.get("/t/c/forged-token", follow_redirects=False).status_code == 404

    # GET shows a page and changes nothing; the one-click POST revokes consent at once.
    path = urlsplit(unsubscribe).path
    page = client.get(path)
    assert page.status_code == 200 and "“Promotions” by Email" in page.text
    with sessions() as s:
        assert s.scalar(select(MemberConsent.granted).where(MemberConsent.member_id == member_id))
    done = client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    with sessions() as s:
        consent = s.scalars(select(MemberConsent).where(MemberConsent.member_id == member_id)).one()
        assert (consent.topic, consent.granted, consent.source) == (
            "promotions",
            False,
            "email:unsubscribe_link",
        )
        assert s.scalar(select(ConsentChange.source).order_by(ConsentChange.id.desc())) == (
            "email:unsubscribe_link"
        )

    second = _enqueue(sessions, tenant, member_id, template_id, "spring-2026:2")
    assert dispatch(sessions, settings, cfg) == 1
    skipped = message(sessions, second)
    assert (skipped.status, skipped.status_reason) == ("skipped", "consent")
    assert events(sessions, second) == [("skipped", {"reason": "consent"})]
    assert len(smtp.messages) == 1


def test_locale_variant_and_fallback(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    smtp: SmtpSink,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    _, template_id = _setup(sessions, tenant, smtp)
    zh = add_member(
        sessions, tenant.merchant_id, first_name="美", email="mei@example.cn", locale="zh_Hans_CN"
    )
    fr = add_member(
        sessions, tenant.merchant_id, first_name="Luc", email="luc@example.fr", locale="fr_FR"
    )
    for who in (zh, fr):
        grant(sessions, tenant.merchant_id, who, "email", "promotions")
    ids = [_enqueue(sessions, tenant, who, template_id, f"k{who}") for who in (zh, fr)]

    dispatch(sessions, settings, cfg)

    subjects = sorted(str(m["Subject"]) for m in smtp.messages)
    assert subjects == ["Luc, 10% off inside", "美，您的10% off"]
    # French is not offered: the merchant's locale (en) is used.
    assert [message(sessions, i).locale for i in ids] == ["zh_Hans", "en"]


def test_duplicate_dedupe_key_returns_the_first_message(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    smtp: SmtpSink,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    member_id, template_id = _setup(sessions, tenant, smtp)
    first = _enqueue(sessions, tenant, member_id, template_id, "order-77:receipt")
    again = _enqueue(sessions, tenant, member_id, template_id, "order-77:receipt")
    assert again == first
    dispatch(sessions, settings, cfg)
    assert len(smtp.messages) == 1


def test_enqueue_rolls_back_with_its_cause(
    sessions: sessionmaker[Session], tenant: Tenant, smtp: SmtpSink
) -> None:
    member_id, template_id = _setup(sessions, tenant, smtp)
    with sessions() as s:
        enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "email",
            template_id=template_id,
            topic="promotions",
            kind="marketing",
            dedupe_key="never",
        )
        s.rollback()
    with sessions() as s:
        assert s.scalars(select(Message)).all() == []


def test_mime_bytes_parse_back_exactly() -> None:
    """The hand-built MIME (the fast path) parses back to the same headers and parts, with
    non-ASCII, an attempted header injection, long lines, "=" and leading dots."""
    outgoing = Outgoing(
        message_id=7,
        merchant_id=1,
        member_id=3,
        idempotency_key="patron-1-abc-0",
        address="mei@example.com",
        callback_url="https://patron.example/cb",
        unsubscribe_url="https://patron.example/u/" + "t" * 150,
        created_at=datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
        merchant_name="Alpha 茶",
    )
    rendered = {
        "subject": "美，您的10% off\r\nBcc: spy@example.com",
        "text": "Line one = 1\r\n.leading dot\n" + "word " * 40,
        "html": "<p>Hi 美</p>\n.\n<a href='https://x.example/" + "b" * 120 + "'>go</a>",
    }
    raw = email_bytes(outgoing, rendered, Credentials(None, {"from_address": "news@a.test"}))
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.isascii()
    mail = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert mail["From"] == "Alpha 茶 <news@a.test>"
    assert mail["Subject"] == "美，您的10% off  Bcc: spy@example.com"  # one line, no new header
    assert mail["Bcc"] is None
    assert mail["Date"] == "Sun, 01 Mar 2026 08:30:00 +0000"
    assert mail["Message-ID"] == message_id_header("patron-1-abc-0", "news@a.test")
    assert mail["List-Unsubscribe"] == f"<{outgoing.unsubscribe_url}>"
    parts = {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in mail.iter_parts()}
    assert parts == {
        "text/plain": "Line one = 1\n.leading dot\n" + "word " * 40 + "\n",
        "text/html": rendered["html"] + "\n",
    }
