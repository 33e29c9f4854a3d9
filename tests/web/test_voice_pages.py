"""Reviews and after-sales pages: the member reviews with a photo, a low rating opens a case,
staff reply and compensate, the member answers; uploads refused; tenancy and roles on every
new route; English and Chinese (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.ledger.verify import verify
from patron.portal import service as portal
from patron.voice import cases, reviews
from patron.voice.models import CaseEvent, Review, ReviewPhoto, ServiceCase
from patron.voice.storage import LocalStorage
from tests.conftest import Tenant
from tests.voice.helpers import image_bytes, lines_of
from tests.web.helpers import add_staff, csrf_of, seed_member, sign_in, sign_in_as
from tests.web.untranslated import data_words, english_words
from tests.web.visible import visible_text


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"media_dir": str(tmp_path / "media")})


def _member_client(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    member_id: int,
    settings: Settings,
) -> None:
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    path = issued.url.removeprefix(settings.base_url)
    r = client.post(path, data={"csrf_token": csrf_of(client.get(path))}, follow_redirects=False)
    assert r.status_code == 303


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _key(text: str, action: str) -> str:
    found = re.search(
        r'name="key" value="([^"]+)"><input type="hidden" name="action" value="' + action, text
    )
    assert found
    return found.group(1)


def test_member_reviews_with_a_photo_two_stars_opens_a_case_staff_compensate_member_answers(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    _member_client(client, sessions, tenant, mei, settings)
    orders_page = client.get("/portal/orders")
    assert f"/portal/reviews/new?line={coat.id}" in orders_page.text
    form = client.get(f"/portal/reviews/new?line={coat.id}")
    assert form.status_code == 200 and "Wool coat" in form.text
    r = client.post(
        "/portal/reviews",
        data={
            "csrf_token": csrf_of(form),
            "line": str(coat.id),
            "rating": "2",
            "body": "Seam opened",
        },
        files=[("photos", ("coat.jpg", image_bytes("JPEG", exif=True), "image/jpeg"))],
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with sessions() as s:
        review = s.scalars(select(Review)).one()
        case = s.scalars(select(ServiceCase)).one()
        photo = s.scalars(select(ReviewPhoto)).one()
    assert (review.rating, review.body, case.review_id, case.line_ids) == (
        2,
        "Seam opened",
        review.id,
        [coat.id],
    )
    assert r.headers["location"] == f"/portal/cases/{case.id}"
    assert [p.name for p in _files(Path(settings.media_dir))] == [photo.storage_key.split("/")[1]]
    mine = client.get("/portal/reviews")
    assert 'data-stars="2"' in mine.text and f"/portal/reviews/photos/{photo.id}" in mine.text
    got = client.get(f"/portal/reviews/photos/{photo.id}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"SpyCam" not in got.content
    # Staff: the case is in the list, they reply and give 300 points (the form sent twice).
    staff = TestClient(client.app)
    sign_in(staff, tenant)
    listing = staff.get("/cases")
    assert f"/cases/{case.id}" in listing.text and 'data-status="open"' in listing.text
    page = staff.get(f"/cases/{case.id}")
    assert (
        page.status_code == 200 and "Seam opened" in page.text and "From a low rating" in page.text
    )
    staff.post(
        f"/cases/{case.id}/reply",
        data={"csrf_token": csrf_of(page), "body": "So sorry, a new coat is coming."},
    )
    with sessions() as s:
        before = queries.member_balances(s, tenant.merchant_id, mei).points_spendable
        entries = s.scalar(select(func.count()).select_from(JournalEntry)) or 0
    form_data = {
        "csrf_token": csrf_of(page),
        "key": _key(page.text, "points"),
        "action": "points",
        "amount": "300",
        "reason": "Sorry for the seam",
    }
    for _ in range(2):
        done = staff.post(f"/cases/{case.id}/compensate", data=form_data, follow_redirects=False)
        assert done.status_code == 303
    with sessions() as s:
        balance = queries.member_balances(s, tenant.merchant_id, mei).points_spendable
        assert balance == before + 300
        assert (s.scalar(select(func.count()).select_from(JournalEntry)) or 0) == entries + 1
        assert verify(s) == []
    page = staff.get(f"/cases/{case.id}")
    assert 'data-testid="points-given">300 points — Sorry for the seam<' in page.text
    assert "So sorry, a new coat is coming." in page.text
    member_page = staff.get(f"/members/{mei}")
    assert f'data-testid="points">{balance:,}<' in member_page.text
    staff.post(
        f"/cases/{case.id}/update",
        data={"csrf_token": csrf_of(page), "status": "closed", "priority": "high"},
    )
    # The member reads the reply and answers the satisfaction question.
    mine = client.get(f"/portal/cases/{case.id}")
    assert "So sorry, a new coat is coming." in mine.text and 'id="satisfaction"' in mine.text
    assert (
        "Sorry for the seam" not in mine.text or "points" not in mine.text
    )  # notes/actions stay inside
    client.post(
        f"/portal/cases/{case.id}/satisfaction", data={"csrf_token": csrf_of(mine), "score": "4"}
    )
    with sessions() as s:
        closed = s.get(ServiceCase, case.id)
        assert closed is not None and (closed.status, closed.satisfaction) == ("closed", 4)
    assert 'data-stars="4"' in client.get(f"/portal/cases/{case.id}").text
    assert 'data-stars="4"' in staff.get(f"/cases/{case.id}").text


@pytest.mark.parametrize(
    ("name", "payload", "kind"),
    [
        ("../../x.png", image_bytes("PNG"), "image/png"),
        ("..\\..\\x.png", image_bytes("PNG"), "image/png"),
        ("coat.png", b"GIF89a" + b"\x00" * 50, "image/png"),
        ("coat.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg"),
        ("big.jpg", image_bytes("JPEG") + b"\x00" * (6 * 1024 * 1024), "image/jpeg"),
    ],
)
def test_refused_uploads_store_nothing(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    settings: Settings,
    tmp_path: Path,
    name: str,
    payload: bytes,
    kind: str,
) -> None:
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    _member_client(client, sessions, tenant, mei, settings)
    form = client.get(f"/portal/reviews/new?line={coat.id}")
    before = sorted(p for p in tmp_path.rglob("*"))
    r = client.post(
        "/portal/reviews",
        data={"csrf_token": csrf_of(form), "line": str(coat.id), "rating": "5", "body": "ok"},
        files=[("photos", (name, payload, kind))],
    )
    assert r.status_code == 200
    assert "is-error" in r.text or "error" in r.text
    assert _files(Path(settings.media_dir)) == []
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "x.png").exists()
    assert (
        _count(sessions, Review),
        _count(sessions, ReviewPhoto),
        _count(sessions, ServiceCase),
    ) == (0, 0, 0)


def _seed_case(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, root: Path
) -> tuple[int, int, int]:
    """(review id, photo id, case id) of a one-star review with a photo."""
    with sessions() as s:
        coat = lines_of(s, member_id)[0]
    with transaction(sessions) as s:
        done = reviews.write_review(
            s,
            tenant.merchant_id,
            member_id,
            coat.id,
            1,
            "很差",
            [image_bytes()],
            LocalStorage(root),
        )
        photo = s.scalars(select(ReviewPhoto).where(ReviewPhoto.review_id == done.review.id)).one()
        assert done.case_id is not None
        return done.review.id, photo.id, done.case_id


def test_another_merchants_reviews_photos_and_cases_answer_404(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    other_tenant: Tenant,
    settings: Settings,
) -> None:
    mei = seed_member(sessions, tenant)
    review_id, photo_id, case_id = _seed_case(sessions, tenant, mei, Path(settings.media_dir))
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    sign_in(client, other_tenant)
    page = client.get("/reviews")
    token = csrf_of(page)
    for path in (f"/cases/{case_id}", f"/reviews/photos/{photo_id}"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/cases/new?member={mei}").status_code == 404
    posts = {
        f"/reviews/{review_id}/reply": {"body": "x"},
        f"/reviews/{review_id}/hide": {"reason": "x"},
        f"/reviews/{review_id}/show": {},
        f"/cases/{case_id}/note": {"body": "x"},
        f"/cases/{case_id}/reply": {"body": "x"},
        f"/cases/{case_id}/update": {"status": "closed", "priority": "low"},
        f"/cases/{case_id}/compensate": {
            "action": "points",
            "amount": "5",
            "reason": "x",
            "key": "k" * 20,
        },
        f"/cases/{case_id}/refund": {"reason": "x", "key": "k" * 20, f"qty-{coat.id}": "1"},
        "/cases": {"member_id": str(mei), "kind": "question", "subject": "x"},
    }
    for path, data in posts.items():
        r = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 404, (path, r.status_code)
    # A member of the other shop, and another member of the same shop.
    stranger = seed_member(sessions, other_tenant, order_ref="B-1")
    ann = seed_member(
        sessions, tenant, first="Ann", phone="+8613800138001", email=None, order_ref="A-2"
    )
    for who, shop in ((stranger, other_tenant), (ann, tenant)):
        member = TestClient(client.app)
        _member_client(member, sessions, shop, who, settings)
        token = csrf_of(member.get("/portal/reviews"))
        for path in (f"/portal/cases/{case_id}", f"/portal/reviews/new?line={coat.id}"):
            assert member.get(path).status_code == 404, path
        assert member.get(f"/portal/reviews/photos/{photo_id}").status_code == (
            404 if shop is other_tenant else 200
        )
        for path, data in {
            f"/portal/cases/{case_id}/message": {"body": "x"},
            f"/portal/cases/{case_id}/satisfaction": {"score": "5"},
            "/portal/reviews": {"line": str(coat.id), "rating": "5"},
            "/portal/cases": {"kind": "question", "subject": "x", "line_ids": str(coat.id)},
        }.items():
            r = member.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
            assert r.status_code == 404, (path, r.status_code)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == 1
        assert s.scalar(select(func.count()).select_from(Review)) == 1


def test_a_clerk_handles_cases_but_only_a_manager_compensates_or_hides(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    mei = seed_member(sessions, tenant)
    review_id, _photo, case_id = _seed_case(sessions, tenant, mei, Path(settings.media_dir))
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and 'id="actions"' not in page.text
    token = csrf_of(page)
    for path in ("/reviews", "/cases", f"/cases/new?member={mei}", f"/members/{mei}"):
        assert client.get(path).status_code == 200, path
    ok = {
        f"/cases/{case_id}/note": {"body": "Called back, no answer"},
        f"/cases/{case_id}/reply": {"body": "We will call you"},
        f"/reviews/{review_id}/reply": {"body": "Sorry!"},
        f"/cases/{case_id}/update": {"status": "open", "priority": "high"},
    }
    for path, data in ok.items():
        r = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code)
    refused = {
        f"/cases/{case_id}/compensate": {
            "action": "points",
            "amount": "5",
            "reason": "x",
            "key": "k" * 20,
        },
        f"/cases/{case_id}/refund": {"reason": "x", "key": "k" * 20},
        f"/reviews/{review_id}/hide": {"reason": "x"},
        f"/reviews/{review_id}/show": {},
    }
    for path, data in refused.items():
        r = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    with sessions() as s:
        kinds = s.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()
        # The reply put the case in the member's hands; setting it open again is a change.
        assert kinds == ["opened", "note", "reply", "status"]
        review = s.get(Review, review_id)
        assert review is not None and review.hidden_at is None and review.reply == "Sorry!"


def test_pages_read_in_chinese_with_no_english_left(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    mei = seed_member(sessions, tenant, locale="zh_Hans")
    _review, _photo, case_id = _seed_case(sessions, tenant, mei, Path(settings.media_dir))
    with transaction(sessions) as s:
        case = cases.get_case(s, tenant.merchant_id, case_id)
        cases.give_balance(s, case, cases.Asset.POINTS, 50, "抱歉", "staff:1", "z" * 20)
        cases.reply(s, case, "非常抱歉", "staff:1")
        cases.update(s, case, "staff:1", status="closed")
    sign_in(client, tenant)
    page = client.get("/members")
    client.post(
        "/language", data={"locale": "zh_Hans", "next": "/members", "csrf_token": csrf_of(page)}
    )
    with sessions() as s:
        allowed = data_words(s)  # what the shop and its members typed
    for path in (
        "/reviews",
        "/cases",
        f"/cases/{case_id}",
        f"/cases/new?member={mei}",
        f"/members/{mei}",
        "/service-settings",
    ):
        r = client.get(path)
        assert r.status_code == 200 and '<html lang="zh-Hans">' in r.text, path
        assert english_words(visible_text(r.text), allowed) == [], path
    member = TestClient(client.app, headers={"Accept-Language": "zh-CN"})
    _member_client(member, sessions, tenant, mei, settings)
    with sessions() as s:
        scarf = lines_of(s, mei)[1]
    for path in (
        "/portal/reviews",
        f"/portal/reviews/new?line={scarf.id}",
        "/portal/cases",
        "/portal/cases/new",
        f"/portal/cases/{case_id}",
        "/portal/orders",
    ):
        r = member.get(path)
        assert r.status_code == 200 and '<html lang="zh-Hans">' in r.text, path
        assert english_words(visible_text(r.text), allowed) == [], path


def test_a_manager_sets_business_hours_a_clerk_only_reads_them(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    from patron.voice.hours import service_settings

    sign_in(client, tenant)
    page = client.get("/service-settings")
    assert page.status_code == 200 and 'value="09:00"' in page.text
    form = {
        "csrf_token": csrf_of(page),
        "first_response_minutes": "120",
        "resolution_minutes": "900",
    }
    form |= {"low_rating": "1", "max_photos": "3", "max_photo_mb": "2"}
    form |= {"open-0": "10:00", "close-0": "19:30", "open-5": "10:00", "close-5": "16:00"}
    r = client.post("/service-settings", data=form, follow_redirects=False)
    assert r.status_code == 303
    bad = client.post("/service-settings", data=form | {"open-1": "18:00", "close-1": "09:00"})
    assert bad.status_code == 200
    with sessions() as s:
        conf = service_settings(s, tenant.merchant_id)
        assert conf["hours"] == {
            "0": ["10:00", "19:30"],
            "1": None,
            "2": None,
            "3": None,
            "4": None,
            "5": ["10:00", "16:00"],
            "6": None,
        }
        assert (conf["first_response_minutes"], conf["resolution_minutes"], conf["low_rating"]) == (
            120,
            900,
            1,
        )
        assert (conf["max_photos"], conf["max_photo_bytes"]) == (3, 2 * 1024 * 1024)
        # Another merchant keeps the defaults.
        assert service_settings(s, other_tenant.merchant_id)["hours"]["1"] == ["09:00", "18:00"]
    email, password = add_staff(sessions, tenant, "clerk")
    clerk = TestClient(client.app)
    sign_in_as(clerk, email, password)
    seen = clerk.get("/service-settings")
    assert seen.status_code == 200 and 'value="10:00"' in seen.text
    refused = clerk.post(
        "/service-settings", data=form | {"csrf_token": csrf_of(seen)}, follow_redirects=False
    )
    assert refused.status_code == 403


def test_a_manager_refunds_a_case_line_once_from_the_case_page(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    from patron.orders.models import Order

    mei = seed_member(sessions, tenant)
    _review, _photo, case_id = _seed_case(sessions, tenant, mei, Path(settings.media_dir))
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    sign_in(client, tenant)
    page = client.get(f"/cases/{case_id}")
    key = re.search(r'name="key" value="([^"]+-r)"', page.text)
    assert key and f'name="qty-{coat.id}"' in page.text
    form = {"csrf_token": csrf_of(page), "key": key.group(1), "reason": "Seam opened"}
    for _ in range(2):
        r = client.post(f"/cases/{case_id}/refund", data=form | {f"qty-{coat.id}": "1"})
        assert r.status_code == 200
    with sessions() as s:
        order = s.get(Order, coat.order_id)
        assert order is not None and order.refunded_minor == 12950 + 59900
        refunds = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "refund")
        ).all()
        assert [(e.body, e.detail["amount_minor"]) for e in refunds] == [("Seam opened", 59900)]
        assert verify(s) == []
    assert "CN¥599.00 — Seam opened" in client.get(f"/cases/{case_id}").text
    # Nothing to refund: refused, nothing changes.
    again = client.post(
        f"/cases/{case_id}/refund",
        data=form | {"key": "another-key-0123456789", f"qty-{coat.id}": "1"},
    )
    assert again.status_code == 200 and "Not saved" in again.text
