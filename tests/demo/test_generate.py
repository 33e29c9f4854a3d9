"""The generator: deterministic, and shaped like the model says real retail data is."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from patron.demo.generate import (
    DemoConfig,
    DemoEvent,
    MemberJoined,
    OrderPlaced,
    OrderRefunded,
    events,
    is_join_or_order,
    joins_and_orders,
)
from patron.demo.model import Kind, Population, customers, timeline
from patron.demo.seasonality import build_calendar, festival_dates
from patron.members.normalize import normalize_email, normalize_phone

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
SMALL = DemoConfig(members=400, seed=7, months=18, now=NOW)


def fingerprint(stream: list[DemoEvent]) -> str:
    digest = hashlib.sha256()
    for event in stream:
        digest.update(repr(event).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def small() -> list[DemoEvent]:
    return list(events(SMALL))


def test_same_seed_same_rows_other_seed_other_rows(small: list[DemoEvent]) -> None:
    again = list(events(SMALL))
    assert fingerprint(again) == fingerprint(small)
    other = list(events(DemoConfig(members=400, seed=8, months=18, now=NOW)))
    assert fingerprint(other) != fingerprint(small)


def test_members_exact_and_unique(small: list[DemoEvent]) -> None:
    joined = [e for e in small if isinstance(e, MemberJoined)]
    assert len(joined) == 400
    ids = {j.member.external_id for j in joined}
    phones = [j.member.phone for j in joined]
    emails = [j.member.email for j in joined if j.member.email]
    assert len(ids) == 400
    assert len(set(phones)) == 400
    assert len(set(emails)) == len(emails) > 100
    # Contact details are already in the form the API would store.
    assert all(normalize_phone(p or "") == p for p in phones)
    assert all(normalize_email(e) == e for e in emails)
    kinds = Counter(j.kind for j in joined)
    assert set(kinds) == {"registered", "never_bought", "phone_only"}
    phone_only = [j for j in joined if j.kind == "phone_only"]
    assert all(j.member.first_name is None and j.member.registered_at is None for j in phone_only)


def test_stream_is_time_ordered_and_inside_the_period(small: list[DemoEvent]) -> None:
    times = [e.at for e in small]
    assert times == sorted(times)
    assert times[-1] <= NOW
    assert times[0] >= NOW - timedelta(days=18 * 31 + 1)


def test_orders_are_consistent(small: list[DemoEvent]) -> None:
    joined_at = {e.member.external_id: e.at for e in small if isinstance(e, MemberJoined)}
    seen: dict[str, datetime] = {}
    orders = [e.order for e in small if isinstance(e, OrderPlaced)]
    for order in orders:
        assert 1 <= len(order.lines) <= 5
        assert all(
            x.quantity > 0 and 0 <= x.discount_minor < x.quantity * x.unit_price_minor
            for x in order.lines
        )
        assert 0 <= order.order_discount_minor <= order.subtotal_minor
        assert order.total_minor > 0
        if order.member_external_id is not None:
            # The member is known before their first order (it is in the stream already).
            assert joined_at[order.member_external_id] <= order.placed_at
        for refund in order.refunds:
            assert 0 < refund.amount_minor <= order.total_minor
            assert order.placed_at < refund.refunded_at <= NOW
        seen[order.external_id] = order.placed_at
    assert len(seen) == len(orders)
    refunds = [e for e in small if isinstance(e, OrderRefunded)]
    assert len(refunds) == sum(len(o.refunds) for o in orders)
    assert all(seen[r.order_external_id] < r.at for r in refunds)
    anonymous = sum(o.member_external_id is None for o in orders) / len(orders)
    assert 0.03 < anonymous < 0.25


def test_refund_share_matches_the_model(small: list[DemoEvent]) -> None:
    # 3 % of orders are refunded, minus those whose refund would fall after now.
    orders = [e.order for e in small if isinstance(e, OrderPlaced)]
    n = len(orders)
    share = sum(bool(o.refunds) for o in orders) / n
    sd = (0.03 * 0.97 / n) ** 0.5
    assert 0.03 - 4 * sd - 0.002 < share < 0.03 + 4 * sd
    full = [o for o in orders if o.refunds and o.refunded_minor == o.total_minor]
    partial = [o for o in orders if o.refunds and o.refunded_minor < o.total_minor]
    assert full and partial


def test_repeat_buyers_share_within_the_bgnbd_bounds(small: list[DemoEvent]) -> None:
    """BG/NBD: a buyer makes a first repeat purchase by now with probability 1 - exp(-λ·τ),
    τ the shop time left after acquisition (dropout acts only after a repeat purchase)."""
    counts = Counter(e.order.member_external_id for e in small if isinstance(e, OrderPlaced))
    cal = build_calendar(NOW, 18, "Asia/Shanghai")
    pop = Population.of(SMALL.members)
    q_all, repeat = [], []
    for block in range(pop.blocks):
        c = customers(SMALL.seed, pop, block, cal)
        tl = timeline(SMALL.seed, c, block, cal, int(NOW.timestamp()))
        member = (c.kind != Kind.WALK_IN) & (tl.first_at >= 0)
        tau = cal.cumulative[-1] - cal.warp(c.acquired)
        q_all.append((1 - np.exp(-c.rate * tau))[member])
        ids = [f"M{c.first + i:07d}" for i in np.flatnonzero(member)]
        repeat.append(np.array([counts[i] >= 2 for i in ids]))
    q, observed = np.concatenate(q_all), np.concatenate(repeat)
    expected = q.mean()
    sd = np.sqrt((q * (1 - q)).sum()) / len(q)
    assert abs(observed.mean() - expected) < 4 * sd + 0.01
    assert 0.4 < observed.mean() < 0.85  # realistic retail: many one-off buyers, not most


def test_revenue_is_pareto_like(small: list[DemoEvent]) -> None:
    revenue: Counter[str] = Counter()
    for e in small:
        if isinstance(e, OrderPlaced) and e.order.member_external_id:
            revenue[e.order.member_external_id] += e.order.total_minor
    values = np.sort(np.array(list(revenue.values())))[::-1]
    top = values[: len(values) // 5].sum() / values.sum()
    assert 0.5 < top < 0.9


def test_peak_month_is_the_spring_festival_run_up(small: list[DemoEvent]) -> None:
    months = Counter(
        e.order.placed_at.strftime("%Y-%m") for e in small if isinstance(e, OrderPlaced)
    )
    spring = max(d for d in festival_dates(range(2025, 2027))["spring"] if d < NOW.date())
    run_up = spring - timedelta(days=1)
    assert months.most_common(1)[0][0] == run_up.strftime("%Y-%m")


def test_festivals_come_from_the_holidays_package() -> None:
    dates = festival_dates(range(2025, 2027))
    assert [d.isoformat() for d in dates["spring"]] == ["2025-01-29", "2026-02-17"]
    assert [d.isoformat() for d in dates["mid-autumn"]] == ["2025-10-06", "2026-09-25"]


def test_calendar_intensity_peaks_before_spring_festival() -> None:
    cal = build_calendar(NOW, 18, "Asia/Shanghai")
    assert cal.intensity.mean() == pytest.approx(1.0)
    eve = (datetime(2026, 2, 16).date() - cal.first_day).days
    assert int(np.argmax(cal.intensity)) in range(eve - 3, eve + 1)


def test_the_progress_total_counts_every_join_and_order_up_front(
    small: list[DemoEvent],
) -> None:
    joins = sum(isinstance(e, MemberJoined) for e in small)
    orders = sum(isinstance(e, OrderPlaced) for e in small)
    assert joins == SMALL.members
    assert joins_and_orders(SMALL) == sum(map(is_join_or_order, small)) == joins + orders
