"""Journey pages over HTTP, on SQLite and PostgreSQL: the library's switch-on, the journey page
with exact step statistics, step editing (a new version; a bad value changes nothing), the send
preview for a real member, the member page's journey card, tenancy and Chinese."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement.journeys import engine, service
from patron.engagement.journeys.models import Journey, JourneyVersion
from patron.members import service as members
from patron.members.schemas import MemberCreate
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, sign_in


def _member(
    sessions: sessionmaker[Session], tenant: Tenant, first: str = "Mei", phone: str | None = None
) -> int:
    with transaction(sessions) as s:
        # She reads English (a +86 phone with no language given would make it Chinese).
        data = MemberCreate(first_name=first, last_name="Chen", phone=phone, locale="en")
        return members.create_member(s, tenant.merchant_id, data).id


def _welcome(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    with transaction(sessions) as s:
        journey = service.create_from_library(s, tenant.merchant_id, "welcome", {"days": 2})
        service.switch(s, tenant.merchant_id, journey.id, True)
        return journey.id


def _run(sessions: sessionmaker[Session]) -> None:
    while engine.run_due(sessions) > 0:
        pass


def _journey(sessions: sessionmaker[Session], journey_id: int) -> tuple[int, list[dict[str, Any]]]:
    with sessions() as s:
        j = s.get_one(Journey, journey_id)
        count = s.scalar(select(func.count()).where(JourneyVersion.journey_id == journey_id))
        return j.version, service.current_version(s, j).steps if count else []


def test_journey_page_shows_steps_and_exact_statistics(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    journey_id = _welcome(sessions, tenant)
    on_time, late = _member(sessions, tenant, "Mei"), _member(sessions, tenant, "Tom")
    with transaction(sessions) as s:
        journey = s.get_one(Journey, journey_id)
        assert engine.enrol(s, journey, on_time, "member.created")
    _run(sessions)  # Mei: hello sent, waiting 2 days
    with transaction(sessions) as s:
        assert engine.enrol(s, s.get_one(Journey, journey_id), late, "member.created")
    clock.advance(timedelta(hours=13))  # Tom's hello is 13 hours late: skipped, missed window
    _run(sessions)

    sign_in(client, tenant)
    page = client.get(f"/journeys/{journey_id}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Welcome series",
        "When a member registers",
        "Send “Welcome, [Greeting name]” (In-app)",
        "Wait 2 days",
        "Wait 4 days",
        "Members go through every step.",
        "Never: once per member",
    ):
        assert expected in text, expected
    hello = text[text.index('id="step-hello"') : text.index('id="step-wait1"')]
    assert "Entered <b>2</b>" in hello and "Completed <b>1</b>" in hello
    assert "Skipped, missed window <b>1</b>" in hello
    wait1 = text[text.index('id="step-wait1"') : text.index('id="step-points"')]
    assert "Entered <b>2</b>" in wait1 and "Here now" not in wait1
    assert "Here now <b>2</b>" in text[text.index('id="step-points"') :]
    assert text.count('href="/members/') == 2  # both enrolments listed

    card = client.get(f"/members/{late}")
    journeys_card = card.text[card.text.index('id="journeys"') :]
    assert "Welcome series" in journeys_card and "missed window" in journeys_card


def test_switching_a_library_journey_on_creates_it_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    page = client.get("/journeys")
    assert page.status_code == 200
    for expected in ("Ready-made journeys", "Birthday greeting", "Festival greeting", "Win-back"):
        assert expected in page.text
    token = csrf_of(page)
    r = client.post("/journeys/library/after_sales", data={"csrf_token": token, "days": "5"})
    assert r.status_code == 200 and "Journey switched on." in r.text
    assert "5 days" in r.text and "When a member places an order" in r.text
    r = client.post("/journeys/library/after_sales", data={"csrf_token": token, "days": "5"})
    assert "Not saved:" in r.text  # a double click does not make a second journey
    r = client.post("/journeys/library/win_back", data={"csrf_token": token, "segment_id": ""})
    assert "Not saved: segment: a whole number is needed" in r.text
    with sessions() as s:
        rows = s.scalars(select(Journey)).all()
        assert [(j.name, j.library_key, j.status, j.version) for j in rows] == [
            ("After-sales care", "after_sales", "on", 1)
        ]
        steps = service.current_version(s, rows[0]).steps
        assert steps[0] == {"id": "wait1", "type": "wait", "days": 5}
    listing = client.get("/journeys").text
    assert "In use" in listing and "After-sales care" in listing

    r = client.post(f"/journeys/{rows[0].id}/switch", data={"csrf_token": token, "on": "false"})
    assert "Journey switched off." in r.text
    with sessions() as s:
        assert s.get_one(Journey, rows[0].id).status == "off"


def test_editing_a_step_saves_a_new_version_and_a_bad_value_changes_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    journey_id = _welcome(sessions, tenant)
    before = _journey(sessions, journey_id)
    sign_in(client, tenant)
    form = client.get(f"/journeys/{journey_id}/steps/wait1")
    assert form.status_code == 200 and 'name="days" value="2"' in form.text
    token = csrf_of(form)
    r = client.post(
        f"/journeys/{journey_id}/steps/wait1",
        data={"csrf_token": token, "mode": "duration", "days": "-3"},
    )
    assert r.status_code == 422
    assert "step wait1: days, hours and minutes are whole numbers, 0 or more" in r.text
    r = client.post(
        f"/journeys/{journey_id}/steps/wait1",
        data={"csrf_token": token, "mode": "duration", "days": "abc"},
    )
    assert r.status_code == 422 and "is not a whole number" in r.text
    assert _journey(sessions, journey_id) == before

    r = client.post(
        f"/journeys/{journey_id}/steps/wait1",
        data={"csrf_token": token, "mode": "duration", "days": "3", "hours": "6"},
    )
    assert (
        r.status_code == 200 and "Saved as version 2." in r.text and "Wait 3 days 6 hours" in r.text
    )
    version, steps = _journey(sessions, journey_id)
    assert version == 2
    assert steps[1] == {"id": "wait1", "type": "wait", "days": 3, "hours": 6}
    assert steps[0] == before[1][0] and steps[2:] == before[1][2:]

    fields = {
        "csrf_token": token,
        "channel": "in_app",
        "kind": "care",
        "topic": "welcome",
        "template_id": "",
        "en.title": "Hi {{ member.nickname }}",
        "en.body": "Hello",
    }
    r = client.post(f"/journeys/{journey_id}/steps/hello", data=fields)
    assert r.status_code == 422 and "unknown variable &#39;member.nickname&#39;" in r.text
    assert _journey(sessions, journey_id)[0] == 2
    r = client.post(
        f"/journeys/{journey_id}/steps/hello",
        data=fields
        | {"en.title": "Hi {{ member.first_name }}", "zh_Hans.title": "嗨", "zh_Hans.body": "你好"},
    )
    assert "Saved as version 3." in r.text
    steps = _journey(sessions, journey_id)[1]
    assert steps[0]["content"] == {
        "en": {"title": "Hi {{ member.first_name }}", "body": "Hello"},
        "zh_Hans": {"title": "嗨", "body": "你好"},
    }


def test_send_step_preview_for_a_real_member(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    journey_id = _welcome(sessions, tenant)
    member_id = _member(sessions, tenant, "Mei", phone="+8613800138000")
    sign_in(client, tenant)
    page = client.get(f"/journeys/{journey_id}/steps/hello?who={member_id}")
    preview = page.text[page.text.index('id="preview"') :]
    assert "<h3>Welcome, Mei</h3>" in preview and "Glad to have you." in preview
    page = client.get(f"/journeys/{journey_id}/steps/hello?who=13800138000")
    assert "<h3>Welcome, Mei</h3>" in page.text
    page = client.get(f"/journeys/{journey_id}/steps/hello?who=nobody-here")
    assert "No member matches this search." in page.text


def test_another_merchants_staff_gets_404(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    journey_id = _welcome(sessions, tenant)
    member_id = _member(sessions, tenant)
    before = _journey(sessions, journey_id)
    sign_in(client, other_tenant)
    token = csrf_of(client.get("/journeys"))
    assert "Welcome series" not in client.get("/journeys").text.split("Ready-made journeys")[0]
    for path in (
        f"/journeys/{journey_id}",
        f"/journeys/{journey_id}/steps/wait1",
        f"/journeys/{journey_id}/steps/hello?who={member_id}",
    ):
        assert client.get(path).status_code == 404, path
    r = client.post(f"/journeys/{journey_id}/switch", data={"csrf_token": token, "on": "false"})
    assert r.status_code == 404
    r = client.post(
        f"/journeys/{journey_id}/steps/wait1",
        data={"csrf_token": token, "mode": "duration", "days": "9"},
    )
    assert r.status_code == 404
    assert _journey(sessions, journey_id) == before
    with sessions() as s:
        assert s.get_one(Journey, journey_id).status == "on"


def test_journey_pages_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    journey_id = _welcome(sessions, tenant)
    sign_in(client, tenant)
    page = client.get("/journeys")
    client.post("/language", data={"locale": "zh_Hans", "next": "/", "csrf_token": csrf_of(page)})
    text = client.get("/journeys").text
    for expected in ("自动旅程", "现成旅程", "生日祝福", "开启"):
        assert expected in text, expected
    text = client.get(f"/journeys/{journey_id}").text
    for expected in ("会员注册时", "等待 2 天", "步骤"):
        assert expected in text, expected
