"""The card page's wallet buttons and the member's own data in a real browser on a phone-sized
screen (390×844), in English and Chinese: add the card to Apple Wallet (a signed .pkpass
downloads), the Google Wallet link, download my data, close my account.

Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.members.models import Member
from patron.portal import service as portal
from patron.wallet import service as wallet
from tests.conftest import Tenant
from tests.live import live_server
from tests.wallet.certs import make_chain, make_rsa_key
from tests.web.conftest import shot
from tests.web.helpers import seed_loyalty, seed_member

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
WORDS = {
    "en": {
        "apple": "Add to Apple Wallet",
        "google": "Save to Google Wallet",
        "json": "Download (JSON)",
        "close": "Close my account",
        "tick": "Yes, close my account",
        "closed": "Your account is closed",
        "points": "Points",
    },
    "zh": {
        "apple": "添加到 Apple 钱包",
        "google": "保存到 Google 钱包",
        "json": "下载（JSON）",
        "close": "注销我的账户",
        "tick": "是的，注销我的账户",
        "closed": "你的账户已注销",
        "points": "积分",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_wallet_buttons_download_and_close_on_a_phone(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    language: str,
) -> None:
    words = WORDS[language]
    chain = make_chain("pass.test.patron")
    google_pem, _public = make_rsa_key()
    locale = "zh_Hans" if language == "zh" else "en"
    member_id = seed_member(sessions, tenant, order_ref="A-7", first="悦", last="周", locale=locale)
    seed_loyalty(sessions, tenant, member_id)
    with transaction(sessions) as s:
        wallet.save_settings(
            s,
            tenant.merchant_id,
            wallet.SettingsIn(
                apple_pass_type_id="pass.test.patron",
                apple_team_id="TEAM123456",
                apple_certificate=chain.cert_pem,
                apple_key=chain.key_pem,
                apple_wwdr=chain.ca_pem,
                google_issuer_id="3388000000012345678",
                google_service_account="wallet@shop.iam.gserviceaccount.com",
                google_key=google_pem,
            ),
        )
        # The stored value is paid back first: the member then closes at once.
        from patron.ledger.service import Asset, EntryInfo, adjust_balance

        info = EntryInfo("settled", "Stored value paid back", "test")
        adjust_balance(s, tenant.merchant_id, member_id, Asset.STORED_PRINCIPAL, -50000, info)
        adjust_balance(s, tenant.merchant_id, member_id, Asset.STORED_BONUS, -5000, info)
        link = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"wallet-{name}-{language}")

    with live_server(app) as base:
        accept = "zh-CN,zh;q=0.9" if language == "zh" else "en-GB,en;q=0.9"
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport=PHONE, extra_http_headers={"Accept-Language": accept}, accept_downloads=True
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + link.url.removeprefix(settings.base_url))
        with page.expect_navigation():
            page.click("form button[type=submit].btn-block")
        page.goto(f"{base}/portal/card")
        apple = page.locator("[data-testid=apple-wallet]")
        google = page.locator("[data-testid=google-wallet]")
        assert apple.inner_text().strip() == words["apple"]
        assert google.inner_text().strip() == words["google"]
        box = apple.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        snap(page, "card")
        with page.expect_download() as got:
            apple.click()
        archive = zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes()))
        body = json.loads(archive.read("pass.json"))
        assert body["storeCard"]["primaryFields"][0] == {
            "key": "points",
            "label": words["points"],
            "value": 1234,
        }
        assert body["storeCard"]["secondaryFields"][0]["value"] == "周悦"
        # The Google button leads to Google's save page (not followed: no network here).
        answer = context.request.get(f"{base}/portal/card/google", max_redirects=0)
        assert answer.status == 303
        assert answer.headers["location"].startswith("https://pay.google.com/gp/v/save/ey")

        page.goto(f"{base}/portal/profile")
        snap(page, "profile")
        with page.expect_download() as got:
            page.click("[data-testid=download-json]")
        document = json.loads(Path(got.value.path()).read_text())
        assert document["member"]["id"] == member_id
        assert [o["external_id"] for o in document["tables"]["orders"]] == ["A-7"]
        with page.expect_navigation():
            page.click("[data-testid=close-account]")
        assert page.inner_text("h1") == words["close"]
        page.get_by_text(words["tick"]).click()
        snap(page, "close")
        with page.expect_navigation():
            page.click("form[action='/portal/profile/close'] button[type=submit]")
        assert page.inner_text("h1") == words["closed"]
        snap(page, "closed")
        assert errors == []
        context.close()
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member is not None and member.erased_at is not None
