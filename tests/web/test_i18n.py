"""Languages: the switcher, Chinese pages, locale formatting, and a complete catalog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.i18n import Formatter, negotiate, normalise_locale
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "src/patron/web/translations/zh_Hans/LC_MESSAGES/messages.po"


def test_chinese_ui_after_switching(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant)
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    r = client.post(
        "/language",
        data={"locale": "zh_Hans", "next": f"/members/{member_id}", "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 200 and r.url.path == f"/members/{member_id}"
    assert '<html lang="zh-Hans">' in r.text
    for expected in ("订单记录", "沟通记录", "会员", "部分退款", "¥599.00", "退出登录"):
        assert expected in r.text, expected
    assert "Order history" not in r.text


def test_browser_language_is_the_default(client: TestClient) -> None:
    r = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-Hans">' in r.text and "登录商家后台。" in r.text
    r = client.get("/login", headers={"Accept-Language": "fr-FR, en;q=0.5"})
    assert '<html lang="en">' in r.text


def test_locale_helpers() -> None:
    assert normalise_locale("zh-CN") == "zh_Hans"
    assert normalise_locale("zh-TW") is None
    assert normalise_locale("en_US") == "en"
    assert negotiate("de;q=0.9, zh-Hans;q=0.8") == "zh_Hans"
    en = Formatter("en", "JPY", "Asia/Tokyo")
    assert en.money(1500) == "JP¥1,500"  # yen has no minor unit
    assert Formatter("en", "USD").money(123456) == "US$1,234.56"
    assert Formatter("zh_Hans", "CNY").money(-990) == "-¥9.90"


def test_every_message_is_translated(tmp_path: Path) -> None:
    """Pages added later must bring their Chinese: extract every msgid and look it up."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "translate:2",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        have = {m.id: m.string for m in read_po(fh) if m.id}
    missing = sorted(str(m) for m in wanted if not have.get(m))
    assert missing == []
