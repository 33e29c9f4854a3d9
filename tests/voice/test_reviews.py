"""Reviews: verified purchase, one per line, low ratings open a case, photos checked by their
content and stored under generated names (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import OutboxEvent
from patron.orders import service as orders
from patron.orders.schemas import RefundCreate, RefundLineIn
from patron.voice import reviews
from patron.voice.models import CaseEvent, Review, ReviewPhoto, ServiceCase
from patron.voice.storage import LocalStorage
from tests.conftest import Tenant
from tests.voice.helpers import image_bytes, lines_of
from tests.web.helpers import seed_member


def _count(s: Session, model: type) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_only_the_buyer_reviews_a_line_once_and_not_a_refunded_one(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    store = LocalStorage(tmp_path / "media")
    mei = seed_member(sessions, tenant)
    ann = seed_member(
        sessions, tenant, first="Ann", phone="+8613800138001", email=None, order_ref="A-2"
    )
    stranger = seed_member(sessions, other_tenant, order_ref="B-1")
    with sessions() as s:
        coat, scarf = lines_of(s, mei)
        ann_coat = lines_of(s, ann)[0]
        foreign = lines_of(s, stranger)[0]
    with transaction(sessions) as s:
        done = reviews.write_review(
            s, tenant.merchant_id, mei, coat.id, 5, "Warm and well cut", [], store
        )
        assert done.case_id is None and done.review.rating == 5
    # Another member's line, another merchant's line: not found (nothing said about them).
    for merchant_id, line_id in (
        (tenant.merchant_id, ann_coat.id),
        (tenant.merchant_id, foreign.id),
    ):
        with pytest.raises(NotFound), transaction(sessions) as s:
            reviews.write_review(s, merchant_id, mei, line_id, 4, "", [], store)
    with pytest.raises(NotFound), transaction(sessions) as s:
        reviews.write_review(s, other_tenant.merchant_id, stranger, coat.id, 4, "", [], store)
    # One review per line.
    with pytest.raises(Conflict), transaction(sessions) as s:
        reviews.write_review(s, tenant.merchant_id, mei, coat.id, 3, "again", [], store)
    # The scarf line (2 bought, 1 refunded) may still be reviewed; refunded in full it may not.
    with transaction(sessions) as s:
        order = s.get(type(coat), scarf.id)
        assert order is not None
        orders.refund_order(
            s,
            tenant.merchant_id,
            scarf.order_id,
            RefundCreate(external_id="R-2", lines=[RefundLineIn(line_no=2, quantity=1)]),
        )
    with pytest.raises(InvalidInput) as refused, transaction(sessions) as s:
        reviews.write_review(s, tenant.merchant_id, mei, scarf.id, 4, "", [], store)
    assert refused.value.code == "line_refunded"
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        reviews.write_review(s, tenant.merchant_id, ann, ann_coat.id, 6, "", [], store)
    with sessions() as s:
        assert _count(s, Review) == 1


def test_a_low_rating_opens_a_case_and_every_review_emits_the_reward_event(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path
) -> None:
    store = LocalStorage(tmp_path / "media")
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat, scarf = lines_of(s, mei)
    with transaction(sessions) as s:
        low = reviews.write_review(
            s, tenant.merchant_id, mei, coat.id, 2, "Seams came apart", [], store
        )
        high = reviews.write_review(s, tenant.merchant_id, mei, scarf.id, 3, "Fine", [], store)
        low_id, high_id = low.review.id, high.review.id
    assert low.case_id is not None and high.case_id is None
    with sessions() as s:
        case = s.get(ServiceCase, low.case_id)
        assert case is not None
        assert (case.kind, case.status, case.priority, case.source) == (
            "quality",
            "open",
            "high",
            "review",
        )
        assert (case.order_id, case.line_ids, case.review_id) == (coat.order_id, [coat.id], low_id)
        assert case.subject == "Wool coat"
        opened = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        assert (opened.kind, opened.body) == ("opened", "Seams came apart")
        events = s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "review.written").order_by(OutboxEvent.id)
        ).all()
        assert [e.payload for e in events] == [
            {
                "review_id": rid,
                "member_id": mei,
                "order_id": coat.order_id,
                "order_line_id": lid,
                "sku": None,
                "event_id": f"review:{rid}",
            }
            for rid, lid in ((low_id, coat.id), (high_id, scarf.id))
        ]
        # The reward never sees the score.
        assert all("rating" not in e.payload for e in events)


def test_photos_are_re_encoded_without_metadata_under_generated_names(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path
) -> None:
    root = tmp_path / "media"
    store = LocalStorage(root)
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    photo = image_bytes("JPEG", exif=True)
    assert b"SpyCam" in photo
    with transaction(sessions) as s:
        done = reviews.write_review(
            s, tenant.merchant_id, mei, coat.id, 4, "", [photo, image_bytes("PNG")], store
        )
        review_id = done.review.id
    files = sorted(_files(root))
    assert len(files) == 2
    assert all(p.parent == root / str(tenant.merchant_id) for p in files)
    with sessions() as s:
        rows = s.scalars(
            select(ReviewPhoto).where(ReviewPhoto.review_id == review_id).order_by(ReviewPhoto.id)
        ).all()
        assert [(r.content_type, r.width, r.height) for r in rows] == [
            ("image/jpeg", 40, 30),
            ("image/png", 40, 30),
        ]
        stored = store.get(rows[0].storage_key)
    assert stored is not None and b"SpyCam" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"GIF89a" + b"\x00" * 40, "photo_type"),
        (b"<?php echo 1; ?>", "photo_type"),
        (b"\x89PNG\r\n\x1a\n" + b"broken" * 10, "photo_type"),
        (image_bytes("JPEG", size=(2000, 2000)) + b"\x00" * 300_000, "photo_too_large"),
    ],
)
def test_a_bad_photo_refuses_the_whole_review_and_stores_nothing(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path, payload: bytes, code: str
) -> None:
    root = tmp_path / "media"
    store = LocalStorage(root)
    mei = seed_member(sessions, tenant)
    with transaction(sessions) as s:
        from patron.voice.hours import save_settings

        save_settings(s, tenant.merchant_id, {"max_photo_bytes": 200_000})
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    with pytest.raises(InvalidInput) as refused, transaction(sessions) as s:
        reviews.write_review(
            s, tenant.merchant_id, mei, coat.id, 1, "", [image_bytes(), payload], store
        )
    assert refused.value.code == code
    assert _files(root) == []
    with sessions() as s:
        assert (_count(s, Review), _count(s, ReviewPhoto), _count(s, ServiceCase)) == (0, 0, 0)


def test_hide_and_reply_are_recorded_with_who_and_why(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    store = LocalStorage(tmp_path / "media")
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat = lines_of(s, mei)[0]
    with transaction(sessions) as s:
        review_id = reviews.write_review(
            s, tenant.merchant_id, mei, coat.id, 4, "ok", [], store
        ).review.id
    with transaction(sessions) as s:
        reviews.reply(s, tenant.merchant_id, review_id, "Thank you!", "staff:1")
        reviews.hide(s, tenant.merchant_id, review_id, "Shows a phone number", "staff:1")
    with pytest.raises(NotFound), transaction(sessions) as s:
        reviews.hide(s, other_tenant.merchant_id, review_id, "no", "staff:9")
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        reviews.hide(s, tenant.merchant_id, review_id, "  ", "staff:1")
    with sessions() as s:
        r = s.get(Review, review_id)
        assert r is not None
        assert (r.reply, r.replied_by, r.hidden_by, r.hidden_reason) == (
            "Thank you!",
            "staff:1",
            "staff:1",
            "Shows a phone number",
        )
        assert r.hidden_at is not None
        assert reviews.list_reviews(s, tenant.merchant_id, visible_only=True) == []


def test_a_review_earns_by_the_action_rule_once_and_whatever_its_stars(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path
) -> None:
    from patron.ledger import queries
    from patron.rewards.models import MemberAction
    from tests.programs.helpers import set_rules
    from tests.rewards.helpers import ACTIONS

    store = LocalStorage(tmp_path / "media")
    mei = seed_member(sessions, tenant)
    with sessions() as s:
        coat, scarf = lines_of(s, mei)
        before = queries.member_balances(s, tenant.merchant_id, mei).balances["points"]
    # Without the merchant's rule a review earns nothing.
    with transaction(sessions) as s:
        first = reviews.write_review(s, tenant.merchant_id, mei, coat.id, 1, "Torn", [], store)
    with sessions() as s:
        assert queries.member_balances(s, tenant.merchant_id, mei).balances["points"] == before
    set_rules(sessions, tenant.merchant_id, actions=ACTIONS)
    with transaction(sessions) as s:
        second = reviews.write_review(s, tenant.merchant_id, mei, scarf.id, 5, "Lovely", [], store)
    with sessions() as s:
        earned = queries.member_balances(s, tenant.merchant_id, mei).balances["points"] - before
        rows = s.scalars(select(MemberAction).where(MemberAction.member_id == mei)).all()
    assert earned == 20
    assert [(r.action, r.event_id, r.points) for r in rows] == [
        ("review_written", f"review:{second.review.id}", 20)
    ]
    assert first.review.id != second.review.id
