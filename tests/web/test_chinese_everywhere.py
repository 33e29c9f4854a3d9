"""Every page, message template, receipt and statement in Chinese leaves nothing in English
(issue 10, defect 8): the dashboard as the owner and as a clerk, the portal as a member, over
a small demo shop, every page ``make screenshots`` visits (``patron.devtools.pages``)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig
from patron.devtools.pages import Page
from patron.devtools.stage import Stage, prepare_stage
from patron.engagement import library
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.models import MessageTemplate
from patron.orders.models import OrderLine, Product
from patron.portal.join import join_path
from patron.portal.service import create_portal_link
from patron.tenancy.models import Merchant, Store
from tests.conftest import START
from tests.web.helpers import csrf_of, sign_in_as
from tests.web.untranslated import data_words, english_words
from tests.web.visible import visible_text


@dataclass
class Shop:
    app: object
    sessions: sessionmaker[Session]
    settings: Settings
    stage: Stage
    allowed: set[str]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    path: Path = tmp_path_factory.mktemp("chinese") / "demo.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = Settings(database_url=url, worker_in_process=False, base_url="http://testserver")
    cfg = DemoConfig(members=30, seed=42, months=3, now=START)
    run_demo(sessions, settings, cfg, "demo", if_empty=False, show_progress=False)
    app = create_app(settings, engine=engine, run_worker=False)
    stage = prepare_stage(app, sessions, settings)
    with sessions() as s:
        allowed = data_words(s)
    yield Shop(app, sessions, settings, stage, allowed)
    engine.dispose()


def _in_chinese(client: TestClient, first: str) -> None:
    page = client.get(first)
    r = client.post(
        "/language", data={"locale": "zh_Hans", "next": first, "csrf_token": csrf_of(page)}
    )
    assert '<html lang="zh-Hans">' in r.text


def _walk(client: TestClient, pages: list[Page], allowed: set[str]) -> dict[str, list[str]]:
    left: dict[str, list[str]] = defaultdict(list)
    for page in pages:
        r = client.get(page.path)
        assert r.status_code == 200, (page.path, r.status_code)
        assert '<html lang="zh-Hans">' in r.text, page.path
        for word in english_words(visible_text(r.text), allowed):
            left[page.path].append(word)
    return dict(left)


def test_the_owner_reads_every_dashboard_page_in_chinese(shop: Shop) -> None:
    client = TestClient(shop.app)  # type: ignore[arg-type]
    sign_in_as(client, shop.stage.owner_email, shop.stage.owner_password)
    _in_chinese(client, "/members")
    assert _walk(client, shop.stage.dashboard, shop.allowed) == {}


def test_a_clerk_reads_the_till_and_members_in_chinese(shop: Shop) -> None:
    client = TestClient(shop.app)  # type: ignore[arg-type]
    sign_in_as(client, shop.stage.clerk_email, shop.stage.clerk_password)
    _in_chinese(client, "/members")
    pages = [p for p in shop.stage.dashboard if shop.stage.allowed("clerk", p.path)]
    pages += [p for p in shop.stage.dashboard if p.route.startswith("/till/")]
    assert len(pages) >= 5
    assert _walk(client, pages, shop.allowed) == {}


def test_a_member_reads_every_portal_page_in_chinese(shop: Shop) -> None:
    with transaction(shop.sessions) as s:
        link = create_portal_link(
            s, shop.stage.merchant_id, shop.stage.member_id, settings=shop.settings
        )
    client = TestClient(shop.app, headers={"Accept-Language": "zh-CN"})  # type: ignore[arg-type]
    path = link.url.removeprefix(shop.settings.base_url)
    client.post(path, data={"csrf_token": csrf_of(client.get(path))})
    assert _walk(client, shop.stage.portal, shop.allowed) == {}


def test_a_customer_reads_the_join_and_code_pages_in_chinese(shop: Shop) -> None:
    """The shop's own signed-out pages: sign in by code, enter the code, scan to join."""
    with transaction(shop.sessions) as s:
        merchant = s.get(Merchant, shop.stage.merchant_id)
        store = s.scalar(select(Store).where(Store.merchant_id == shop.stage.merchant_id))
        assert merchant is not None and store is not None
        slug = merchant.slug
        library.put_channel_setting(
            s,
            merchant.id,
            "email",
            enabled=True,
            base_url=None,
            credentials={"host": "127.0.0.1", "port": 9, "from_address": "shop@example.com"},
        )
        join_link = join_path(shop.settings.secret_key, merchant, store.id, None, "poster")
    client = TestClient(shop.app, headers={"Accept-Language": "zh-CN"})  # type: ignore[arg-type]
    left: dict[str, list[str]] = {}
    for path in (f"/portal/{slug}/signin", f"/portal/{slug}/join", join_link):
        page = client.get(path)
        assert page.status_code == 200, path
        words = english_words(visible_text(page.text), shop.allowed)
        if words:
            left[path] = words
    signin = client.get(f"/portal/{slug}/signin")
    asked = client.post(
        f"/portal/{slug}/signin",
        data={"contact": "someone@example.com", "csrf_token": csrf_of(signin)},
    )
    assert asked.status_code == 200 and '<html lang="zh-Hans">' in asked.text
    words = english_words(visible_text(asked.text), shop.allowed)
    if words:
        left["code"] = words
    wrong = client.post(
        f"/portal/{slug}/code", data={"code": "000000", "csrf_token": csrf_of(asked)}
    )
    assert wrong.status_code == 422 and "验证码不正确" in wrong.text
    assert left == {}


class _Sample(dict[str, object]):
    """Parameters of a ready-made journey: any id asked for is 1."""

    def __missing__(self, key: str) -> object:
        return 1


def test_built_in_message_templates_have_chinese_text() -> None:
    left = {}
    for key, journey in LIBRARY.items():
        built = journey.build(_Sample())
        for step in built["steps"]:
            content = step.get("content", {}).get("zh_Hans")
            if content is None:
                continue
            words = english_words("\n".join(str(v) for v in content.values()))
            if words:
                left[f"{key}/{step['id']}"] = words
    assert left == {}


def test_the_demo_shop_message_templates_read_in_chinese(shop: Shop) -> None:
    """The Chinese variant of every template the demo shop sends, as a member reads it."""
    left = {}
    with shop.sessions() as s:
        for template in s.scalars(select(MessageTemplate)):
            variant = template.variants.get("zh_Hans")
            assert variant is not None, template.name
            text = "\n".join(visible_text(str(v)) for v in variant.values())
            words = english_words(text)
            if words:
                left[template.name] = words
    assert left == {}


def test_the_demo_shop_names_its_categories_in_chinese(shop: Shop) -> None:
    with shop.sessions() as s:
        categories = set(s.scalars(select(Product.category)))
        bought = set(s.scalars(select(OrderLine.category)))
    assert "绿茶 Green tea" in categories and bought <= categories
    assert all(re.match(r"^[\u4e00-\u9fff]+ ", c or "") for c in categories | bought)


def test_the_detector_finds_english() -> None:
    assert english_words("充值 Top-up of ¥1.00") == ["Top-up", "of"]
    assert english_words("订单 LJ-50G · mei@example.com · {{ member.display_name }}") == []
    assert english_words("Green tea", {"Green", "tea"}) == []
