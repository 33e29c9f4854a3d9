"""Every link a message can carry leads to a real page: render a real message, follow each link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.config import MessageSettings
from patron.engagement.messages import enqueue_message
from patron.engagement.models import MessageKind
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.engagement.conftest import dispatch
from tests.engagement.providers import SmtpSink
from tests.portal.helpers import use_email
from tests.web.helpers import seed_member

LINKS = ("unsubscribe", "portal", "shop", "product", "coupon")
HREF = re.compile(r'href="([^"]+)"')


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _follow(client: TestClient, url: str) -> tuple[int, str]:
    """Follow redirects by hand (each hop inside the app); the last status and path."""
    path = _local(url)
    for _ in range(6):
        answer = client.get(path, follow_redirects=False)
        if answer.status_code not in (302, 303, 307):
            return answer.status_code, path
        path = _local(answer.headers["location"])
    raise AssertionError(f"too many redirects from {url}")


def _send_with_every_link(
    sessions: sessionmaker[Session], settings: Settings, tenant: Tenant, member_id: int
) -> None:
    html = "".join(f'<a href="{{{{ links.{name} }}}}">{name}</a> ' for name in LINKS)
    text = " ".join(f"{{{{ links.{name} }}}}" for name in LINKS)
    with transaction(sessions) as s:
        template = library.create_template(
            s,
            tenant.merchant_id,
            "Every link",
            "email",
            {"en": {"subject": "Links", "html": f"<html><body>{html}</body></html>", "text": text}},
        )
        enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "email",
            topic="orders",
            kind=MessageKind.TRANSACTIONAL.value,
            dedupe_key="every-link",
            template_id=template.id,
        )


def test_every_link_in_a_message_lands_on_a_page(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    member_id = seed_member(sessions, tenant, email="mei@example.com", order_ref=None)
    _send_with_every_link(sessions, settings, tenant, member_id)
    cfg = MessageSettings(batch_size=10, lease_seconds=60, max_attempts=3)
    assert dispatch(sessions, settings, cfg) == 1
    mail = smtp.messages[0]
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part is not None and text_part is not None
    tracked = HREF.findall(html_part.get_content())
    plain = text_part.get_content().split()
    assert len(tracked) == len(plain) == len(LINKS)
    # The unsubscribe link stays untracked; the others go through the click redirect.
    assert tracked[0] == plain[0] and all("/t/c/" in url for url in tracked[1:])
    assert [urlsplit(u).path for u in plain[1:]] == ["/portal/alpha"] * 4
    assert urlsplit(plain[4]).query == "to=coupons"

    # Signed out: every link answers a page (the portal ones: the shop's sign-in page).
    for url in [*tracked, *plain]:
        status, landed = _follow(client, url)
        assert status == 200, (url, landed)
        if "/portal" in landed:
            assert landed == "/portal/alpha/signin", url

    # Signed in: the portal links land on the portal pages they name.
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    link = _local(issued.url)
    page = client.get(link)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(link, data={"csrf_token": csrf})
    landings = [_follow(client, url) for url in plain[1:]]
    assert landings == [
        (200, "/portal"),
        (200, "/portal"),
        (200, "/portal"),
        (200, "/portal/coupons"),
    ]
