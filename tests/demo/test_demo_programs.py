"""``patron demo`` runs its history through the loyalty programs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import patron.models
from patron.core.config import Settings
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig, MemberJoined, OrderPlaced, OrderRefunded, events
from patron.ledger.verify import verify
from tests.conftest import START

CFG = DemoConfig(members=90, seed=11, months=4, now=START)


def row_counts(engine: Engine) -> dict[str, int]:
    names = [t.name for t in patron.models.Base.metadata.sorted_tables]
    with engine.connect() as conn:
        return {n: conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one() or 0)


def test_demo_history_runs_through_the_programs(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings
) -> None:
    login = run_demo(sessions, settings, CFG, "demo", if_empty=False, show_progress=False)
    assert login is not None
    stream = list(events(CFG))
    joined = [e for e in stream if isinstance(e, MemberJoined)]
    placed = [e for e in stream if isinstance(e, OrderPlaced)]
    refunded = [e for e in stream if isinstance(e, OrderRefunded)]
    registered = {j.member.external_id for j in joined if j.member.registered_at is not None}
    counts = row_counts(engine)
    assert counts["members"] == CFG.members
    assert counts["orders"] == len(placed)
    assert counts["refunds"] == len(refunded)
    # Registered members paid through checkout; everyone else through the orders service.
    checkout = [p for p in placed if p.order.member_external_id in registered]
    assert scalar(engine, "SELECT count(*) FROM orders WHERE source = 'checkout'") == len(checkout)
    # Every member order was settled by the programs.
    assert counts["order_payments"] == sum(p.order.member_external_id is not None for p in placed)
    # Refunds are by lines, and the lines add up to the refund.
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM refunds r WHERE NOT EXISTS "
            "(SELECT 1 FROM refund_lines l WHERE l.refund_id = r.id)",
        )
        == 0
    )
    assert scalar(engine, "SELECT sum(amount_minor) FROM refund_lines") == scalar(
        engine, "SELECT sum(amount_minor) FROM refunds"
    )
    # Members hold points, tiers are spread, coupons were used, the mall and top-ups were visited.
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM ledger_accounts WHERE member_id IS NOT NULL "
            "AND asset = 'points' AND balance > 0",
        )
        > 10
    )
    assert scalar(engine, "SELECT count(DISTINCT tier_code) FROM member_tiers") >= 2
    assert scalar(engine, "SELECT count(*) FROM coupon_codes WHERE status = 'redeemed'") > 0
    assert scalar(engine, "SELECT count(*) FROM coupon_codes WHERE source = 'welcome'") > 0
    assert counts["mall_orders"] >= 1
    assert counts["top_ups"] >= 1
    assert scalar(engine, "SELECT count(*) FROM order_payments WHERE points_redeemed > 0") > 0
    # Some registered members joined by scanning a store's join code (none of the others);
    # online buyers visited the portal (the store customers online figure has data).
    assert 0 < counts["member_joins"] < len(registered)
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM member_joins j JOIN members m ON m.id = j.member_id "
            "AND m.merchant_id = j.merchant_id WHERE m.registered_at IS NULL OR j.store_id IS NULL",
        )
        == 0
    )
    assert counts["portal_visits"] > 0
    # Program settings are in force from the start of the history.
    first = min(e.at for e in stream)
    with engine.connect() as conn:
        since = conn.execute(text("SELECT max(effective_from) FROM program_rules")).scalar_one()
        moves = conn.execute(
            text("SELECT min(moved_at), max(moved_at) FROM funnel_transitions")
        ).one()
    assert str(since)[:10] <= first.date().isoformat()
    # Funnel moves happened when the events did, not when the demo ran.
    assert str(moves[0])[:10] <= (first + timedelta(days=1)).date().isoformat()
    assert str(moves[1])[:10] <= START.date().isoformat()
    # Journeys are on and ran as the clock moved; the past campaign released with a holdout.
    assert scalar(engine, "SELECT count(*) FROM journeys WHERE status = 'on'") == 6
    assert scalar(engine, "SELECT count(*) FROM journey_enrolments") > 0
    assert scalar(engine, "SELECT count(*) FROM inbox_items") > 0
    assert scalar(engine, "SELECT count(*) FROM messages WHERE status = 'sent'") > 0
    with engine.connect() as conn:
        c = conn.execute(
            text(
                "SELECT status, audience_count, treated_count, holdout_count, released_count "
                "FROM campaigns"
            )
        ).one()
        drawn = conn.execute(text("SELECT count(*) FROM campaign_recipients")).scalar_one()
    assert c[0] == "sent" and c[1] > 0 and c[1] == c[2] + c[3] == drawn and c[4] == c[2]
    with engine.connect() as conn:
        launched = conn.execute(text("SELECT launched_at FROM campaigns")).scalar_one()
    assert str(launched)[:10] == (START - timedelta(days=60)).date().isoformat()
    with sessions() as s:
        assert verify(s) == []
        s.rollback()

    # `make run` calls `patron demo --if-empty` on every start: nothing changes.
    assert run_demo(sessions, settings, CFG, "demo", if_empty=True, show_progress=False) is None
    assert row_counts(engine) == counts
