"""Scan to join and sign in by one-time code, through the pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.coupons import automation
from patron.coupons import service as coupons
from patron.coupons.models import CouponCode
from patron.coupons.schemas import TemplateIn
from patron.members.models import ConsentChange, Member, MemberConsent, MemberIdentity
from patron.portal.join import wording_version
from patron.portal.models import MemberJoin, PortalCode, PortalSession
from tests.conftest import Tenant
from tests.engagement.providers import ProviderServer, SmtpSink
from tests.portal.helpers import (
    emailed_code,
    enter_code,
    join_path,
    post_form,
    staff_id,
    texted_code,
    use_email,
    use_sms,
)
from tests.web.helpers import add_staff, seed_member

SLUG = "alpha"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sms_server(client: TestClient) -> Iterator[ProviderServer]:
    with ProviderServer(lambda url, body, headers: 200) as server:
        yield server


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_join_by_email_creates_the_member_with_consent_proof_and_attribution(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
    clock: FrozenClock,
) -> None:
    use_email(sessions, tenant, smtp)
    clerk_email, _ = add_staff(sessions, tenant, "clerk")
    clerk = staff_id(sessions, clerk_email)
    path = join_path(sessions, settings, tenant, staff_id=clerk, source="spring-poster")

    sent = post_form(
        client,
        path,
        {
            "contact": " Lin.Wu@Example.com ",
            "first_name": "Lin",
            "last_name": "Wu",
            "birthday": "1990-05-17",
            "topic": ["marketing", "birthday"],
        },
    )
    assert (sent.status_code, sent.headers["location"]) == (303, f"/portal/{SLUG}/code")  # type: ignore[attr-defined]
    # Nothing is a member before the code comes back.
    assert _count(sessions, Member) == 0
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "lin.wu@example.com"
    code = emailed_code(smtp)
    with sessions() as s:
        row = s.scalars(select(PortalCode)).one()
        assert code not in row.code_hash and len(row.code_hash) == 64
        assert row.expires_at == clock.now() + timedelta(seconds=600)

    signed = enter_code(client, SLUG, code)
    assert (signed.status_code, signed.headers["location"]) == (303, "/portal")  # type: ignore[attr-defined]
    home = client.get("/portal")
    assert home.status_code == 200 and "Lin" in home.text

    with sessions() as s:
        member = s.scalars(select(Member)).one()
        assert (member.first_name, member.last_name, member.email, member.phone) == (
            "Lin",
            "Wu",
            "lin.wu@example.com",
            None,
        )
        assert (member.birthday, member.home_store_id, member.source) == (
            date(1990, 5, 17),
            tenant.store_id,
            "join",
        )
        assert member.registered_at == clock.now() and member.funnel_stage == "member"
        identities = [(i.kind, i.value) for i in s.scalars(select(MemberIdentity))]
        assert identities == [("email", "lin.wu@example.com")]
        consents = sorted(
            (c.channel, c.topic, c.granted, c.source) for c in s.scalars(select(MemberConsent))
        )
        assert consents == [
            ("email", "birthday", True, "join"),
            ("email", "marketing", True, "join"),
        ]
        proofs = {c.topic: c for c in s.scalars(select(ConsentChange))}
        assert set(proofs) == {"birthday", "marketing"}
        marketing = proofs["marketing"]
        assert marketing.wording == (
            "Send me these by the text message or email I gave (I can stop at any time): "
            "Offers and news"
        )
        assert marketing.wording_version == wording_version(marketing.wording)
        assert marketing.changed_at == clock.now()
        attribution = s.scalars(select(MemberJoin)).one()
        assert (
            attribution.member_id,
            attribution.store_id,
            attribution.staff_user_id,
            attribution.source,
        ) == (member.id, tenant.store_id, clerk, "spring-poster")
        events = list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
        assert events.count("member.created") == 1
        assert s.scalars(select(PortalCode.used_at)).one() == clock.now()
        assert s.scalar(select(func.count()).select_from(PortalSession)) == 1


def test_join_in_chinese_records_the_chinese_words(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    client.headers["Accept-Language"] = "zh-CN"
    path = join_path(sessions, settings, tenant)
    page = client.get(path)
    assert "成为会员" in page.text and "优惠与新品资讯" in page.text
    post_form(
        client,
        path,
        {
            "contact": "zhou@example.com",
            "first_name": "悦",
            "last_name": "周",
            "topic": ["marketing"],
        },
    )
    assert "登录验证码" in str(smtp.messages[0]["Subject"])
    enter_code(client, SLUG, emailed_code(smtp))
    with sessions() as s:
        change = s.scalars(select(ConsentChange)).one()
        assert change.wording is not None and "优惠与新品资讯" in change.wording
        assert s.scalars(select(Member.locale)).one() == "zh_Hans"


def test_sign_in_by_text_message_code(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    sms_server: ProviderServer,
) -> None:
    use_sms(sessions, tenant, sms_server)
    member_id = seed_member(sessions, tenant, phone="+8613800138000", order_ref=None)
    sent = post_form(client, f"/portal/{SLUG}/signin", {"contact": "138 0013 8000"})
    assert sent.status_code == 303  # type: ignore[attr-defined]
    assert [m["To"] for m in sms_server.state.sms] == ["+8613800138000"]
    assert "StatusCallback" not in sms_server.state.sms[0]
    signed = enter_code(client, SLUG, texted_code(sms_server))
    assert signed.headers["location"] == "/portal"  # type: ignore[attr-defined]
    home = client.get("/portal")
    assert home.status_code == 200 and "Hello, Mei" in home.text
    with sessions() as s:
        assert s.scalars(select(PortalSession.member_id)).one() == member_id
        assert s.scalar(select(func.count()).select_from(MemberJoin)) == 0


def test_unknown_address_gets_the_same_answer_and_nothing_is_sent(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    seed_member(sessions, tenant, email="mei@example.com", order_ref=None)
    known = post_form(client, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    known_page = client.get(f"/portal/{SLUG}/code").text.replace("mei@example.com", "X")
    other = TestClient(client.app)
    unknown = post_form(other, f"/portal/{SLUG}/signin", {"contact": "nobody@example.com"})
    unknown_page = other.get(f"/portal/{SLUG}/code").text.replace("nobody@example.com", "X")
    assert (known.status_code, known.headers["location"]) == (  # type: ignore[attr-defined]
        unknown.status_code,  # type: ignore[attr-defined]
        unknown.headers["location"],  # type: ignore[attr-defined]
    )
    strip = lambda text: text.split('name="csrf_token"')[0]  # noqa: E731
    assert strip(known_page) == strip(unknown_page)
    assert [m["To"] for m in smtp.messages] == ["mei@example.com"]
    # Asking again at once is throttled alike for both.
    again = post_form(other, f"/portal/{SLUG}/signin", {"contact": "nobody@example.com"})
    assert again.status_code == 429  # type: ignore[attr-defined]
    # The code that was never sent signs nobody in (a guess of it is just wrong).
    assert _count(sessions, Member) == 1


def test_wrong_expired_and_used_codes_are_refused_and_change_nothing(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
    clock: FrozenClock,
) -> None:
    use_email(sessions, tenant, smtp)
    seed_member(sessions, tenant, email="mei@example.com", order_ref=None)
    post_form(client, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    code = emailed_code(smtp)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = enter_code(client, SLUG, wrong)
    assert refused.status_code == 422 and "not right" in refused.text  # type: ignore[attr-defined]
    assert client.get("/portal").status_code == 401
    with sessions() as s:
        assert s.scalars(select(PortalCode.used_at)).one() is None
        assert s.scalar(select(func.count()).select_from(PortalSession)) == 0

    clock.advance(timedelta(seconds=settings.portal_code_max_age_seconds))
    late = enter_code(client, SLUG, code)
    assert late.status_code == 410 and "expired" in late.text  # type: ignore[attr-defined]
    with sessions() as s:
        assert s.scalars(select(PortalCode.used_at)).one() is None
        assert s.scalar(select(func.count()).select_from(PortalSession)) == 0

    resent = client.post(
        f"/portal/{SLUG}/code/resend",
        data={
            "csrf_token": client.get(f"/portal/{SLUG}/code")
            .text.split('name="csrf_token" value="')[1]
            .split('"')[0]
        },
    )
    assert resent.status_code == 200 and len(smtp.messages) == 2
    fresh = emailed_code(smtp)
    assert enter_code(client, SLUG, fresh).status_code == 303
    other = TestClient(client.app)
    post_form(other, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})  # throttled
    with sessions() as s:
        sessions_before = s.scalar(select(func.count()).select_from(PortalSession))
    # The used code again, in another browser that asked for the same address: refused.
    other.cookies.clear()
    client2 = TestClient(client.app)
    clock.advance(timedelta(seconds=61))
    post_form(client2, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    reused = enter_code(client2, SLUG, fresh)
    assert reused.status_code == 409 and "already used" in reused.text  # type: ignore[attr-defined]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(PortalSession)) == sessions_before


def test_resend_is_throttled_to_one_a_minute(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
    clock: FrozenClock,
) -> None:
    use_email(sessions, tenant, smtp)
    seed_member(sessions, tenant, email="mei@example.com", order_ref=None)
    post_form(client, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    clock.advance(timedelta(seconds=59))
    too_soon = post_form(client, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    assert too_soon.status_code == 429 and "2 seconds" in too_soon.text  # type: ignore[attr-defined]
    assert len(smtp.messages) == 1 and _count(sessions, PortalCode) == 1
    clock.advance(timedelta(seconds=1))
    again = post_form(client, f"/portal/{SLUG}/signin", {"contact": "mei@example.com"})
    assert again.status_code == 303 and len(smtp.messages) == 2  # type: ignore[attr-defined]
    # The first code was closed by the second.
    assert enter_code(client, SLUG, emailed_code(smtp, 0)).status_code == 410
    assert enter_code(client, SLUG, emailed_code(smtp, 1)).status_code == 303


def test_existing_member_who_scans_is_signed_in_not_duplicated_nor_changed(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    sms_server: ProviderServer,
) -> None:
    use_sms(sessions, tenant, sms_server)
    member_id = seed_member(sessions, tenant, phone="+8613800138000", order_ref=None)
    path = join_path(sessions, settings, tenant, source="poster")
    form = {"contact": "+8613800138000", "first_name": "Mallory", "birthday": "2000-01-01"}
    post_form(client, path, {**form, "topic": ["marketing"]})
    assert enter_code(client, SLUG, texted_code(sms_server)).status_code == 303
    with sessions() as s:
        member = s.scalars(select(Member)).one()
        assert (member.id, member.first_name, member.birthday) == (member_id, "Mei", None)
        assert s.scalar(select(func.count()).select_from(MemberConsent)) == 0
        assert s.scalar(select(func.count()).select_from(MemberJoin)) == 0


def test_join_with_someone_elses_phone_cannot_take_over(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    sms_server: ProviderServer,
) -> None:
    use_sms(sessions, tenant, sms_server)
    seed_member(sessions, tenant, phone="+8613800138000", order_ref=None)
    path = join_path(sessions, settings, tenant)
    post_form(client, path, {"contact": "+8613800138000", "first_name": "Mallory"})
    # The code went to the owner's phone; the attacker can only guess.
    assert [m["To"] for m in sms_server.state.sms] == ["+8613800138000"]
    guess = f"{(int(texted_code(sms_server)) + 7) % 1_000_000:06d}"
    assert enter_code(client, SLUG, guess).status_code == 422
    assert client.get("/portal").status_code == 401
    with sessions() as s:
        assert s.scalars(select(Member.first_name)).one() == "Mei"
        assert s.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_a_join_link_works_only_for_its_own_merchant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    use_email(sessions, other_tenant, smtp)
    a_path = join_path(sessions, settings, tenant)
    token = a_path.rsplit("/", 1)[1]
    # A's link under B's address, B's store under A's token, a forged token: all 404.
    assert client.get(f"/portal/bravo/join/{token}").status_code == 404
    b_path = join_path(sessions, settings, other_tenant)
    assert client.get(f"/portal/alpha/join/{b_path.rsplit('/', 1)[1]}").status_code == 404
    assert client.get("/portal/alpha/join/forged-token").status_code == 404
    # A's staff member's own link cannot be made for B (the token names A).
    clerk_email, _ = add_staff(sessions, tenant, "clerk")
    clerk = staff_id(sessions, clerk_email)
    with sessions() as s:
        from patron.portal import join as join_service
        from patron.tenancy.models import Merchant

        bravo = s.get(Merchant, other_tenant.merchant_id)
        assert bravo is not None
        forged = join_service.join_path(settings.secret_key, bravo, other_tenant.store_id, clerk)
    assert client.get(forged).status_code == 404
    page = client.get(f"/portal/bravo/join/{token}")
    assert page.status_code == 404
    csrf = client.get(a_path).text.split('name="csrf_token" value="')[1].split('"')[0]
    posted = client.post(
        f"/portal/bravo/join/{token}",
        data={"contact": "x@example.com", "first_name": "X", "csrf_token": csrf},
    )
    assert posted.status_code == 404
    assert _count(sessions, PortalCode) == 0 and smtp.messages == []


def test_a_join_gets_the_welcome_the_programs_give(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    """The join emits the same ``member.created`` as any new member: the welcome coupon the
    merchant set up is issued by the coupons' own follower, once."""
    use_email(sessions, tenant, smtp)
    with transaction(sessions) as s:
        welcome = coupons.create_template(
            s,
            tenant.merchant_id,
            TemplateIn(
                name="Welcome ¥10",
                kind="amount_off",
                amount_off_minor=1000,
                auto_issue_on=["welcome"],
            ),
        )
    post_form(
        client,
        join_path(sessions, settings, tenant),
        {"contact": "new@example.com", "first_name": "New"},
    )
    enter_code(client, SLUG, emailed_code(smtp))
    with transaction(sessions) as s:
        automation.follow_events(s)
        automation.follow_events(s)
    with sessions() as s:
        member_id = s.scalars(select(Member.id)).one()
        given = s.execute(select(CouponCode.member_id, CouponCode.template_id)).all()
        assert [tuple(g) for g in given] == [(member_id, welcome.id)]


def test_join_records_what_the_member_likes_from_the_shops_categories(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    from tests.programs.helpers import add_products

    use_email(sessions, tenant, smtp)
    add_products(sessions, tenant.merchant_id)  # categories: cards, tea, ware
    path = join_path(sessions, settings, tenant)
    form = client.get(path)
    assert form.status_code == 200
    offered = [value.split('"')[0] for value in form.text.split('name="categories" value="')[1:]]
    assert offered == ["cards", "tea", "ware"]
    sent = post_form(
        client,
        path,
        {"contact": "kai@example.com", "first_name": "Kai", "categories": ["tea", "<b>x</b>"]},
    )
    assert sent.status_code == 303  # type: ignore[attr-defined]
    assert _count(sessions, Member) == 0
    enter_code(client, SLUG, emailed_code(smtp))
    with sessions() as s:
        member = s.scalars(select(Member)).one()
    # What is not one of the shop's categories is dropped.
    assert member.preferences == {"categories": ["tea"], "styles": [], "colours": []}
