"""A member's language (issue 10, defect 6): a customer in London of a Chinese shop gets the
English variant of a campaign email — rendered by the real pipeline and read back from a real
SMTP server —, an English unsubscribe page and an English portal; a given language is kept; a
+86 phone with no language given reads Chinese. The API shows the language and its source."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.campaigns.release import release_due
from patron.engagement.config import MessageSettings
from patron.tenancy.models import Merchant
from tests.conftest import Tenant
from tests.engagement.conftest import configure, dispatch, grant
from tests.engagement.providers import SmtpSink
from tests.web.helpers import csrf_of, sign_in

WINTER = {
    "en": {
        "subject": "Dear {{ member.first_name }}: the winter teas are in",
        "html": '<html><body><p>Dear {{ member.first_name }}</p><a href="{{ links.unsubscribe }}">'
        "Unsubscribe</a></body></html>",
        "text": "Dear {{ member.first_name }}. Unsubscribe: {{ links.unsubscribe }}",
    },
    "zh_Hans": {
        "subject": "亲爱的 {{ member.first_name }}：冬季新茶已到店",
        "html": "<html><body><p>亲爱的 {{ member.first_name }}</p>"
        '<a href="{{ links.unsubscribe }}">退订</a></body></html>',
        "text": "亲爱的 {{ member.first_name }}。退订：{{ links.unsubscribe }}",
    },
}
# (first name, phone, language given) → (language, source) the API reports.
PEOPLE = {
    "Carol": ("+447400123456", None, ("en", "phone")),  # in London, nothing given
    "Wei": ("+8613912345678", None, ("zh_Hans", "phone")),  # a Chinese mobile, nothing given
    "Anna": ("+447912345678", "zh_Hans", ("zh_Hans", "given")),  # given beats the phone
    "Bo": ("+8613912345679", "en-GB", ("en", "given")),
}


def _chinese_shop(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    with transaction(sessions) as s:
        s.execute(
            update(Merchant).where(Merchant.id == tenant.merchant_id).values(locale="zh_Hans_CN")
        )


def _members(client: TestClient, tenant: Tenant) -> dict[str, dict[str, object]]:
    made = {}
    for name, (phone, given, _expected) in PEOPLE.items():
        body: dict[str, object] = {
            "first_name": name,
            "phone": phone,
            "email": f"{name.lower()}@example.com",
        }
        if given:
            body["locale"] = given
        r = client.post("/api/v1/members", json=body, headers=tenant.headers)
        assert r.status_code == 201, r.text
        made[name] = r.json()
    return made


def test_london_member_of_a_chinese_shop_reads_english_everywhere(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    _chinese_shop(sessions, tenant)
    configure(sessions, tenant.merchant_id, "email", smtp.credentials)
    people = _members(client, tenant)
    for name, (_phone, given, expected) in PEOPLE.items():
        shown = client.get(f"/api/v1/members/{people[name]['id']}", headers=tenant.headers).json()
        assert (shown["locale"], shown["language"], shown["language_source"]) == (
            given,
            *expected,
        ), name
    listed = client.get("/api/v1/members?q=Carol", headers=tenant.headers).json()["items"]
    assert [(m["language"], m["language_source"]) for m in listed] == [("en", "phone")]

    # A campaign by email through the real pipeline to aiosmtpd.
    template = client.post(
        "/api/v1/templates",
        json={"name": "Winter teas", "channel": "email", "variants": WINTER},
        headers=tenant.headers,
    ).json()
    ids = [int(str(people[name]["id"])) for name in PEOPLE]
    campaign = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Winter",
            "member_ids": ids,
            "channel": "email",
            "template_id": template["id"],
        },
        headers=tenant.headers,
    ).json()
    for member_id in ids:
        grant(sessions, tenant.merchant_id, member_id, "email", campaign["topic"])
    launched = client.post(
        f"/api/v1/campaigns/{campaign['id']}/launch", json={}, headers=tenant.headers
    )
    assert launched.status_code == 200, launched.text
    with transaction(sessions) as s:
        assert release_due(s) == 4
    assert dispatch(sessions, settings, cfg) == 4

    mail = {str(m["To"]).split("@")[0]: m for m in smtp.messages}
    assert {name: str(mail[name.lower()]["Subject"]) for name in PEOPLE} == {
        "Carol": "Dear Carol: the winter teas are in",
        "Wei": "亲爱的 Wei：冬季新茶已到店",
        "Anna": "亲爱的 Anna：冬季新茶已到店",
        "Bo": "Dear Bo: the winter teas are in",
    }

    # The unsubscribe page of each mail is in that member's language (no cookie, no header).
    def unsubscribe_page(name: str) -> str:
        link = re.fullmatch(r"<(.+)>", str(mail[name]["List-Unsubscribe"]))
        assert link is not None
        page = TestClient(client.app).get(urlsplit(link.group(1)).path)
        assert page.status_code == 200
        return page.text

    carol_page = unsubscribe_page("carol")
    assert '<html lang="en">' in carol_page and "<h1>Unsubscribe</h1>" in carol_page
    wei_page = unsubscribe_page("wei")
    assert '<html lang="zh-Hans">' in wei_page and "<h1>退订</h1>" in wei_page

    # The portal, before Carol picks a language, is in English too.
    link = client.post(
        f"/api/v1/members/{people['Carol']['id']}/portal-link", headers=tenant.clerk_headers
    ).json()
    browser = TestClient(client.app)
    path = urlsplit(link["url"]).path
    browser.post(path, data={"csrf_token": csrf_of(browser.get(path))})
    home = browser.get("/portal")
    assert home.status_code == 200 and '<html lang="en">' in home.text

    # The dashboard's member page (in the shop's Chinese) says which language and why.
    sign_in(client, tenant)
    page = client.get(f"/members/{people['Carol']['id']}").text
    assert '<dd>英语 <span class="muted">· 按手机号所属国家推断</span></dd>' in page
