"""Guards, in order: consent → frequency cap → quiet hours (hold, then release)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.config import MessageSettings
from patron.engagement.dispatcher import claim_and_prepare, send_batch
from patron.engagement.messages import enqueue_message
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, dispatch, events, grant, message

INBOX = {"en": {"title": "Hello {{ member.first_name }}", "body": "News"}}


def _enqueue(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    member_id: int,
    key: str,
    kind: str,
    topic: str = "promotions",
) -> int:
    with transaction(sessions) as s:
        return enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "in_app",
            content=INBOX,
            topic=topic,
            kind=kind,
            dedupe_key=key,
        ).id


def test_consent_skip_is_recorded_and_care_needs_no_opt_in(
    sessions: sessionmaker[Session], tenant: Tenant, settings: Settings, cfg: MessageSettings
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    marketing = _enqueue(sessions, tenant, member, "m1", "marketing")
    care = _enqueue(sessions, tenant, member, "c1", "care", topic="aftercare")

    assert dispatch(sessions, settings, cfg) == 2

    assert (message(sessions, marketing).status, message(sessions, marketing).status_reason) == (
        "skipped",
        "consent",
    )
    assert events(sessions, marketing) == [("skipped", {"reason": "consent"})]
    assert message(sessions, care).status == "sent"


def test_cap_skips_the_third_marketing_message_in_a_week(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    grant(sessions, tenant.merchant_id, member, "in_app", "promotions")
    first = _enqueue(sessions, tenant, member, "m1", "marketing")
    dispatch(sessions, settings, cfg)
    clock.advance(timedelta(days=2))
    second = _enqueue(sessions, tenant, member, "m2", "marketing")
    dispatch(sessions, settings, cfg)
    clock.advance(timedelta(days=2))
    third = _enqueue(sessions, tenant, member, "m3", "marketing")
    receipt = _enqueue(sessions, tenant, member, "t1", "transactional", topic="orders")
    dispatch(sessions, settings, cfg)

    assert [message(sessions, i).status for i in (first, second, third, receipt)] == [
        "sent",
        "sent",
        "skipped",
        "sent",
    ]
    assert message(sessions, third).status_reason == "frequency_cap"
    assert events(sessions, third) == [("skipped", {"reason": "frequency_cap"})]

    # Seven days after the first, the window has room again.
    clock.advance(timedelta(days=3, minutes=1))
    fourth = _enqueue(sessions, tenant, member, "m4", "marketing")
    dispatch(sessions, settings, cfg)
    assert message(sessions, fourth).status == "sent"


def test_cap_counts_within_one_batch(
    sessions: sessionmaker[Session], tenant: Tenant, settings: Settings, cfg: MessageSettings
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    grant(sessions, tenant.merchant_id, member, "in_app", "promotions")
    ids = [_enqueue(sessions, tenant, member, f"m{i}", "marketing") for i in range(3)]
    dispatch(sessions, settings, cfg)
    assert [message(sessions, i).status for i in ids] == ["sent", "sent", "skipped"]


def test_quiet_hours_hold_and_release_in_two_time_zones(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    # 14:00 UTC is 22:00 in Shanghai (merchant's zone) and 09:00 in New York (EST, UTC-5).
    clock.set(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    shanghai = add_member(sessions, tenant.merchant_id)  # no zone of its own: the merchant's
    berlin = add_member(sessions, tenant.merchant_id, timezone="Europe/Berlin")  # 15:00 there
    new_york = add_member(sessions, tenant.merchant_id, timezone="America/New_York")
    ids = [
        _enqueue(sessions, tenant, m, f"t{m}", "transactional", "orders")
        for m in (shanghai, berlin, new_york)
    ]

    dispatch(sessions, settings, cfg)

    held = message(sessions, ids[0])
    assert (held.status, held.status_reason) == ("queued", "quiet_hours")
    assert held.not_before == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert events(sessions, ids[0]) == [
        ("held", {"reason": "quiet_hours", "until": "2026-03-03T01:00:00+00:00"})
    ]
    assert message(sessions, ids[1]).status == "sent"
    assert message(sessions, ids[2]).status == "sent"

    # 20:59 Berlin is fine; at 21:00 Berlin time a new message for Berlin is held until 09:00.
    clock.set(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))  # 21:00 CET
    late = _enqueue(sessions, tenant, berlin, "late", "transactional", "orders")
    dispatch(sessions, settings, cfg)
    assert message(sessions, late).not_before == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

    clock.set(datetime(2026, 3, 3, 0, 59, tzinfo=UTC))  # 08:59 Shanghai: still quiet
    dispatch(sessions, settings, cfg)
    assert message(sessions, ids[0]).status == "queued"
    clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # 09:00 Shanghai: released
    dispatch(sessions, settings, cfg)
    assert message(sessions, ids[0]).status == "sent"
    assert message(sessions, late).status == "queued"
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # 09:00 Berlin
    dispatch(sessions, settings, cfg)
    assert message(sessions, late).status == "sent"


def test_cap_counts_messages_another_worker_has_prepared_but_not_sent(
    sessions: sessionmaker[Session], tenant: Tenant, settings: Settings, cfg: MessageSettings
) -> None:
    """Worker A prepared two marketing messages (still queued, under its lease) and died or is
    slow; worker B claiming a third for the same member must count A's two (ADR 0401)."""
    member = add_member(sessions, tenant.merchant_id)
    grant(sessions, tenant.merchant_id, member, "in_app", "promotions")
    ids = [_enqueue(sessions, tenant, member, f"m{i}", "marketing") for i in range(3)]
    worker_a = MessageSettings(batch_size=2, lease_seconds=60)
    claimed, ready_a = claim_and_prepare(sessions, settings, worker_a)
    assert (claimed, [p.message_id for p in ready_a]) == (2, ids[:2])
    assert [message(sessions, i).status for i in ids] == ["queued"] * 3

    claimed, ready = claim_and_prepare(sessions, settings, cfg)  # worker B
    assert (claimed, ready) == (1, [])
    assert (message(sessions, ids[2]).status, message(sessions, ids[2]).status_reason) == (
        "skipped",
        "frequency_cap",
    )
    # Worker A goes on and sends its two.
    send_batch(sessions, ready_a, cfg)
    assert [message(sessions, i).status for i in ids] == ["sent", "sent", "skipped"]
    assert [message(sessions, i).attempts for i in ids] == [1, 1, 0]
