"""The soak in CI: bench/soak.py's three-minute version on PostgreSQL (issue 11).

Mixed traffic (checkouts, refunds, top-ups, imports, a campaign, webhooks) against `patron
serve` and a `patron worker` that is SIGKILLed and replaced half-way; then `patron verify` is
clean, every acknowledged purchase exists exactly once, every campaign message and webhook is
accounted for, and memory is flat. The 30-minute run is recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import pytest
from bench.soak import soak, summary

from tests.conftest import PG_ADMIN_URL, need_service, pg_available

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_three_minutes_of_mixed_traffic_keep_every_promise() -> None:
    need_service(pg_available())
    report = soak(minutes=3, clients=3, members=150, serve_workers=1, pg=PG_ADMIN_URL)
    failed = {name: c["detail"] for name, c in report["checks"].items() if not c["ok"]}
    assert failed == {}, summary(report)
    assert report["acknowledged_purchases"] > 100
    assert report["refunds"] > 0 and report["top_ups"] > 0 and report["imports"] > 0
    assert report["campaign_id"] is not None
