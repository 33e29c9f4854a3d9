"""A member reviews a purchase with a photo in a real browser and gives two stars; a case
opens; staff reply and give goodwill points; the member reads the reply and answers the
satisfaction question — in English and Chinese, every number on screen checked against the
database. Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger import queries
from patron.ledger.verify import verify
from patron.portal import service as portal
from patron.voice.models import Review, ReviewPhoto, ServiceCase
from tests.conftest import Tenant
from tests.live import live_server
from tests.voice.helpers import image_bytes, lines_of
from tests.web.conftest import shot
from tests.web.helpers import seed_member

pytestmark = pytest.mark.browser
WORDS = {
    "en": {
        "review": "Write a review",
        "publish": "Publish review",
        "give": "Give points",
        "reply": "Send reply",
        "save": "Save",
        "send": "Send my answer",
        "points": "300 points",
    },
    "zh": {
        "review": "写评价",
        "publish": "发布评价",
        "give": "赠送积分",
        "reply": "发送回复",
        "save": "保存",
        "send": "提交评分",
        "points": "300 积分",
    },
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"media_dir": str(tmp_path / "media")})


@pytest.mark.parametrize("language", ["en", "zh"])
def test_review_two_stars_case_reply_points_satisfaction(
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
    mei = seed_member(sessions, tenant, locale="zh_Hans" if language == "zh" else "en")
    with sessions() as s:
        coat = lines_of(s, mei)[0]
        start_points = queries.member_balances(s, tenant.merchant_id, mei).points_spendable
    photo = tmp_path / "coat.jpg"
    photo.write_bytes(image_bytes("JPEG", exif=True))
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    accept = "zh-CN,zh;q=0.9" if language == "zh" else "en-GB,en;q=0.9"

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"voice-{name}-{language}")

    with live_server(app) as base:
        # The member: sign in by link, review the coat with a photo and two stars.
        with transaction(sessions) as s:
            issued = portal.create_portal_link(s, tenant.merchant_id, mei, settings=settings)
        member = browser.new_context(extra_http_headers={"Accept-Language": accept})  # type: ignore[attr-defined]
        page = member.new_page()
        page.goto(base + issued.url.removeprefix(settings.base_url))
        page.click("form[action^='/portal/signin'] button")
        page.wait_for_url(f"{base}/portal")
        page.goto(f"{base}/portal/orders")
        page.click(f"a[href='/portal/reviews/new?line={coat.id}']")
        assert words["review"] in page.content()
        page.check("input[name=rating][value='2']")
        page.fill("#r-body", "接缝开了" if language == "zh" else "The seam opened")
        page.set_input_files("#r-photos", str(photo))
        snap(page, "review-form")
        page.click(f"button:has-text('{words['publish']}')")
        page.wait_for_url(f"{base}/portal/cases/*")
        with sessions() as s:
            review = s.scalars(select(Review)).one()
            case = s.scalars(select(ServiceCase)).one()
            assert s.scalars(select(ReviewPhoto)).one().review_id == review.id
        assert (review.rating, case.review_id, case.status) == (2, review.id, "open")
        snap(page, "case-opened")

        # Staff: reply, give 300 points, close.
        staff = browser.new_context(extra_http_headers={"Accept-Language": accept})  # type: ignore[attr-defined]
        desk = staff.new_page()
        desk.goto(f"{base}/login")
        desk.fill("#email", tenant.owner_email)
        desk.fill("#password", tenant.owner_password)
        desk.click("button[type=submit].btn-block")
        desk.goto(f"{base}/cases")
        if language == "zh":  # staff read the merchant's language until they choose theirs
            desk.click("form.lang button[value=zh_Hans]")
            desk.wait_for_load_state()
        desk.click(f"a[href='/cases/{case.id}']")
        desk.fill(
            "textarea[name=body] >> nth=0",
            "非常抱歉，新大衣已寄出。"
            if language == "zh"
            else "So sorry, a new coat is on its way.",
        )
        desk.click(f"button:has-text('{words['reply']}')")
        desk.fill("#a-points", "300")
        desk.fill("#a-points-reason", "抱歉" if language == "zh" else "Sorry for the seam")
        desk.click(f"button:has-text('{words['give']}')")
        assert words["points"] in desk.inner_text("[data-testid=points-given]")
        desk.select_option("#u-status", "closed")
        desk.click(f"#u-status >> xpath=ancestor::form >> button:has-text('{words['save']}')")
        snap(desk, "case-staff")
        with sessions() as s:
            points = queries.member_balances(s, tenant.merchant_id, mei).points_spendable
            assert points == start_points + 300
            assert verify(s) == []
        desk.goto(f"{base}/members/{mei}")
        assert desk.inner_text("[data-testid=points]") == f"{points:,}"

        # The member reads the reply and answers 4 stars.
        page.goto(f"{base}/portal/cases/{case.id}")
        assert ("新大衣" if language == "zh" else "a new coat is on its way") in page.content()
        page.check("input[name=score][value='4']")
        page.click(f"button:has-text('{words['send']}')")
        assert page.get_attribute("[data-testid=satisfaction] [data-stars]", "data-stars") == "4"
        snap(page, "satisfaction")
        page.goto(f"{base}/portal/points")
        assert f"{points:,}" in page.inner_text("body")
        member.close()
        staff.close()
    with sessions() as s:
        done = s.get(ServiceCase, case.id)
        assert done is not None and (done.status, done.satisfaction) == ("closed", 4)
