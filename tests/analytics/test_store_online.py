"""Store customers moving online: the page, its CSV and the report equal an independent count
over the seeded rows (Python over the operational tables), and hand-worked figures.

The shop of ``tests.web.analytics_data`` (Ann, Bo, Cai; S1 a store, WEB the online shop) plus:
Cai buys at S1 on 5 Mar, Dee (new) at S1 on 7 Mar and online on 8 Mar. Bo joined online
(scan to join at S1) on 15 Feb, Dee on 7 Mar. Portal visits: Ann 25 Jan; Cai 28 Feb 20:00 UTC
(= 1 Mar 04:00 in Shanghai: March, not February). SMS is switched on; Ann and
Dee agreed to marketing by SMS; Cai agreed by e-mail but has no e-mail address.

| month | S1 customers | joined online | signed in | bought online | reachable |
| --- | --- | --- | --- | --- | --- |
| Jan | Ann, Bo (2) | 0 | 1 (Ann) | 0 (Ann's is 3 Feb) | 1 (Ann) |
| Feb | Cai (1) | 0 | 0 | 0 | 0 |
| Mar | Cai, Dee (2) | 1 (Dee) | 1 (Cai) | 1 (Dee) | 1 (Dee) |
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.report import write_report
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.library import put_channel_setting
from patron.engagement.reach import reachable_members
from patron.members import service as members
from patron.members.models import Member
from patron.members.schemas import ConsentIn, MemberCreate
from patron.orders import service as orders
from patron.orders.models import Order
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.portal.models import MemberJoin, PortalVisit
from patron.tenancy.models import Store
from tests.conftest import Tenant, make_tenant
from tests.web.analytics_data import seed_shop
from tests.web.helpers import csrf_of, sign_in
from tests.web.test_analytics_pages import WINDOW, aclient, opened  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXPECTED = [
    # period, store customers, joined, signed in, bought online, reachable
    ("2026-01-01", 2, 0, 1, 0, 1),
    ("2026-02-01", 1, 0, 0, 0, 0),
    ("2026-03-01", 2, 1, 1, 1, 1),
]
STEPS = ("joined_online", "signed_in", "bought_online", "reachable")


def _order(s: Session, t: Tenant, ref: str, member: int, store: int, at: datetime) -> None:
    orders.create_order(
        s,
        t.merchant_id,
        OrderCreate(
            external_id=ref,
            member_id=member,
            store_id=store,
            placed_at=at,
            lines=[OrderLineIn(name="Tea", quantity=1, unit_price_minor=1500)],
        ),
    )


def seed_online(sessions: sessionmaker[Session], tenant: Tenant) -> dict[str, int]:
    ids = seed_shop(sessions, tenant)
    with transaction(sessions) as s:
        dee = members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(first_name="Dee", phone="+8613800000004", registered=True),
        )
        ids["Dee"] = dee.id
        _order(s, tenant, "X-1", ids["Cai"], tenant.store_id, datetime(2026, 3, 5, 4, tzinfo=UTC))
        _order(s, tenant, "X-2", dee.id, tenant.store_id, datetime(2026, 3, 7, 4, tzinfo=UTC))
        _order(s, tenant, "X-3", dee.id, tenant.online_store_id, datetime(2026, 3, 8, tzinfo=UTC))
        for name, at in (("Bo", datetime(2026, 2, 15, 3)), ("Dee", datetime(2026, 3, 7, 3))):
            s.add(
                MemberJoin(
                    merchant_id=tenant.merchant_id,
                    member_id=ids[name],
                    store_id=tenant.store_id,
                    source="poster",
                    joined_at=at.replace(tzinfo=UTC),
                )
            )
        for name, at in (
            ("Ann", datetime(2026, 1, 25, 2)),
            ("Cai", datetime(2026, 2, 28, 20)),
        ):
            at = at.replace(tzinfo=UTC)
            s.add(
                PortalVisit(
                    merchant_id=tenant.merchant_id,
                    member_id=ids[name],
                    visited_on=at.astimezone(SHANGHAI).date(),
                    visited_at=at,
                )
            )
        put_channel_setting(
            s, tenant.merchant_id, "sms", enabled=True, base_url=None, credentials={}
        )
        for name, channel in (("Ann", "sms"), ("Dee", "sms"), ("Cai", "email")):
            members.set_consent(
                s,
                tenant.merchant_id,
                ids[name],
                ConsentIn(channel=channel, topic="marketing", granted=True, source="test"),
            )
    return ids


def independent(sessions: sessionmaker[Session], tenant: Tenant) -> list[tuple[object, ...]]:
    """The figure counted in Python over the operational rows (no analytics code but the
    dispatcher's reach answer, which the figure is defined by)."""
    m = tenant.merchant_id

    def month(at: datetime) -> date:
        local = at.astimezone(SHANGHAI)
        return date(local.year, local.month, 1)

    with sessions() as s:
        stores = select(Store.id, Store.channel).where(Store.merchant_id == m)
        store_ids = {int(i): str(ch) for i, ch in s.execute(stores)}
        rows = s.execute(
            select(
                Order.member_id, Order.store_id, Order.channel, Order.status, Order.placed_at
            ).where(Order.merchant_id == m)
        ).all()
        live = [r for r in rows if r.status not in ("refunded", "cancelled") and r.member_id]
        firsts: dict[str, dict[int, date]] = defaultdict(dict)

        def note(kind: str, member: int, when: date) -> None:
            firsts[kind][member] = min(when, firsts[kind].get(member, when))

        for r in live:
            if r.channel == "online":
                note("bought_online", r.member_id, month(r.placed_at))
        for member, at in s.execute(
            select(MemberJoin.member_id, MemberJoin.joined_at).where(MemberJoin.merchant_id == m)
        ):
            note("joined_online", member, month(at))
        for member, at in s.execute(
            select(PortalVisit.member_id, PortalVisit.visited_at).where(
                PortalVisit.merchant_id == m
            )
        ):
            note("signed_in", member, month(at))
        groups: dict[tuple[date, int], set[int]] = defaultdict(set)
        for r in live:
            when = month(r.placed_at)
            if r.channel == "store" and date(2026, 1, 1) <= when <= date(2026, 3, 1):
                assert store_ids[r.store_id] == "store"
                groups[(when, r.store_id)].add(r.member_id)
        everyone = {x for g in groups.values() for x in g}
        reach = reachable_members(s, m, everyone)
    out = []
    for (when, _store), who in sorted(groups.items()):
        counts = [sum(1 for x in who if firsts[k].get(x, date.max) <= when) for k in STEPS[:3]]
        out.append((when.isoformat(), len(who), *counts, len(who & reach)))
    return out


def test_independent_count_matches_the_hand_worked_table(
    tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_online(sessions, tenant)
    assert independent(sessions, tenant) == EXPECTED


def test_page_csv_and_report_equal_the_independent_count(
    aclient: TestClient,  # noqa: F811
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    seed_online(sessions, tenant)
    # Another merchant's join, visit and store customer are never counted.
    bravo = make_tenant(sessions, "bravo")
    with transaction(sessions) as s:
        stranger = members.create_member(
            s, bravo.merchant_id, MemberCreate(first_name="Eve", phone="+8613800000009")
        )
        _order(s, bravo, "B-1", stranger.id, bravo.store_id, datetime(2026, 1, 7, 4, tzinfo=UTC))
        s.add(
            MemberJoin(
                merchant_id=bravo.merchant_id,
                member_id=stranger.id,
                store_id=bravo.store_id,
                joined_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    expected = independent(sessions, tenant)
    assert expected == EXPECTED
    sign_in(aclient, tenant)
    html = opened(aclient, f"/analytics?{WINDOW}")
    part = html.split('id="fig-store_online"', 1)[1].split("</section>", 1)[0]
    assert "Store customers moving online" in part
    assert "<td>Jan 2026</td><td>Main street</td>" in part
    # Each row: counts with their shares, exactly.
    assert '<td class="num" data-step="signed_in">1 <span class="muted">(50%)</span>' in part
    assert '<td class="num" data-step="reachable">1 <span class="muted">(50%)</span>' in part
    assert "Reachable by message" in part and "by the end of the period" in part
    rows = list(
        csv.DictReader(io.StringIO(aclient.get(f"/analytics/store_online.csv?{WINDOW}").text))
    )
    got = [(r["period"], int(r["store_customers"]), *(int(r[k]) for k in STEPS)) for r in rows]
    assert got == expected
    assert {r["store"] for r in rows} == {"Main street"}
    assert rows[0]["joined_online_share"] == "0.0" and rows[2]["bought_online_share"] == "0.5"
    # The report: the same table.
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "r.duckdb")})
    out = tmp_path / "report.html"
    write_report(mine, out, "alpha", "2026-01-01", "2026-03-31")
    report = out.read_text(encoding="utf-8")
    section = report.split('id="fig-store_online"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr>") == 4  # head + three months
    for row in expected:
        assert f'<td class="num">{row[1]}</td>' in section
    assert section.count('data-step="reachable">1 ') == 2
    # Chinese: the same numbers under Chinese words.
    page = aclient.get(f"/analytics?{WINDOW}")
    zh = aclient.post(
        "/language",
        data={"locale": "zh_Hans", "next": f"/analytics?{WINDOW}", "csrf_token": csrf_of(page)},
    ).text
    part = zh.split('id="fig-store_online"', 1)[1].split("</section>", 1)[0]
    assert "门店顾客转到线上" in part and "可触达" in part and "2026年1月" in part
    assert '<td class="num" data-step="signed_in">1 <span class="muted">(50%)</span>' in part


def test_members_not_reachable_by_the_dispatchers_rules(
    tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = seed_online(sessions, tenant)
    with transaction(sessions) as s:
        # Ann says no to everything by SMS: no longer reachable; a merged member never is.
        members.set_consent(
            s,
            tenant.merchant_id,
            ids["Ann"],
            ConsentIn(channel="sms", topic="*", granted=False, source="test"),
        )
        assert s.get(Member, ids["Dee"]) is not None
        found = reachable_members(s, tenant.merchant_id, ids.values())
    assert found == {ids["Dee"]}


def test_generated_shop_by_week_with_a_store_filter_equals_pandas() -> None:
    """The Ibis definition on a generated shop (weeks, a store filter) against a pandas count."""
    import pandas as pd
    from bench.analytics_data import generate

    from patron.analytics import online
    from patron.analytics.engines import connect_duckdb, load_tables
    from patron.analytics.facts import Filters, Scope, date_period_index

    frames = generate(3000, seed=5)
    con = connect_duckdb()
    load_tables(con, frames)
    scope = Scope(1, date(2025, 1, 6), date(2025, 4, 7), "week", Filters(stores=[10, 11]))
    reach = set(range(1, 400, 4))
    got = con.execute(online.store_customers_online(con, scope, reach))
    got = got.sort_values(["pidx", "store_id"], ignore_index=True)

    o = frames["orders"]
    o = o[~o["status"].isin(["refunded", "cancelled"]) & o["member_id"].notna()]
    local = pd.to_datetime(o["placed_local"], unit="us")
    week = [date_period_index(d.date(), "week") for d in local]
    o = o.assign(week=week, day=local.dt.date)

    def first_week(member: pd.Series, at: pd.Series) -> dict[int, int]:
        days = pd.to_datetime(at, unit="us").dt.date
        frame = pd.DataFrame({"m": member.astype("int64"), "w": days})
        return {
            int(m): date_period_index(d, "week") for m, d in frame.groupby("m")["w"].min().items()
        }

    joins = first_week(frames["member_joins"]["member_id"], frames["member_joins"]["joined_local"])
    visits = first_week(
        frames["portal_visits"]["member_id"], frames["portal_visits"]["visited_local"]
    )
    web = o[o["channel"] == "online"]
    bought = first_week(web["member_id"], web["placed_local"])
    shop = o[
        (o["channel"] == "store")
        & o["store_id"].isin([10, 11])
        & (o["day"] >= scope.start)
        & (o["day"] < scope.end)
    ]
    rows = []
    for (wk, store), g in shop.groupby(["week", "store_id"]):
        who = {int(m) for m in g["member_id"]}
        rows.append(
            (
                wk,
                int(store),
                len(who),
                sum(1 for m in who if joins.get(m, 10**9) <= wk),
                sum(1 for m in who if visits.get(m, 10**9) <= wk),
                sum(1 for m in who if bought.get(m, 10**9) <= wk),
                len(who & reach),
            )
        )
    columns = ["pidx", "store_id", "store_customers", *online.STEPS]
    assert len(rows) > 20
    assert [tuple(int(v) for v in r) for r in got[columns].itertuples(index=False)] == rows


def test_the_table_says_when_nobody_can_get_a_message() -> None:
    """Reachable 0 everywhere (no channel on, as in the demo): the note says what is missing;
    without a reachability answer the column shows "—" and nothing is said."""
    import pandas as pd

    from patron.analytics.facts import Scope
    from patron.analytics.figures import FigureBuilder, Labels

    labels = Labels(str, lambda v: f"¥{v / 100:.2f}", lambda d, _p: d.isoformat())
    scope = Scope(1, date(2026, 1, 1), date(2026, 2, 1))
    row = {"period": date(2026, 1, 1), "store_id": 1, "store": "A & B", "store_customers": 4}
    row |= {"joined_online": 1, "signed_in": 2, "bought_online": 0, "reachable": 0}
    row |= {"joined_online_share": 0.25, "signed_in_share": 0.5, "bought_online_share": 0.0}
    row |= {"reachable_share": 0.0}
    fig = FigureBuilder({}, labels, scope).store_online(pd.DataFrame([row]))
    assert fig is not None and "No one can get a message yet" in fig.note
    assert "<td>A &amp; B</td>" in fig.chart  # merchant text escaped
    assert '<td class="num" data-step="joined_online">1 <span class="muted">(25%)</span>' in (
        fig.chart
    )
    unknown = pd.DataFrame([row | {"reachable": None, "reachable_share": None}])
    fig = FigureBuilder({}, labels, scope).store_online(unknown)
    assert fig is not None and "No one can get a message" not in fig.note
    assert fig.chart.count('<td class="num">—</td>') == 1
