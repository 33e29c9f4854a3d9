"""Checkout's round trips (issue 12, ADR 0900): the statements and commits a quote and a commit
send, counted on the engine; and the merchant cache sees a change of the set-up at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest, QuoteRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons import gifts
from patron.coupons.schemas import GiftRuleIn
from patron.orders.models import Product
from patron.programs import stored_value
from tests.conftest import Tenant
from tests.programs.helpers import POINTS, add_products, new_member, set_rules, typical_program

CART = [{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}]


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.commits = 0


@contextmanager
def counting(engine: Engine) -> Iterator[Counted]:
    got = Counted()

    def statement(_c: Any, _cur: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's explicit BEGIN; PostgreSQL's is implicit
            got.statements.append(sql)

    def committed(_c: Any) -> None:
        got.commits += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        yield got
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)


def shop_with_member(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    m = tenant.merchant_id
    typical_program(sessions, m)
    add_products(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        stored_value.top_up(s, m, member, 10000, "tu-1", "test")
    return member


def request(member: int, tenant: Tenant) -> dict[str, Any]:
    return {"member_id": member, "store_id": tenant.store_id, "lines": CART, "stored_value": 500}


def quote(sessions: sessionmaker[Session], tenant: Tenant, member: int) -> Any:
    with transaction(sessions) as s:
        req = QuoteRequest.model_validate(request(member, tenant))
        return checkout.quote(s, tenant.merchant_id, req, secret="x")


def commit(sessions: sessionmaker[Session], tenant: Tenant, member: int, key: str) -> Any:
    with transaction(sessions) as s:
        req = CommitRequest.model_validate(request(member, tenant))
        return checkout.commit(s, tenant.merchant_id, req, key, "test", secret="x")


def test_a_quote_with_the_set_up_cached_sends_two_statements(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    first = quote(sessions, tenant, member)  # fills the merchant cache
    with counting(engine) as got:
        again = quote(sessions, tenant, member)
    assert again == first
    # the member, then the member's state with the merchant's set-up version
    assert len(got.statements) == 2, got.statements


def test_a_commit_sends_one_commit_and_fewer_statements(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    commit(sessions, tenant, member, "warm-up")
    with counting(engine) as got:
        out = commit(sessions, tenant, member, "counted")
    assert not out.replayed
    assert got.commits == 1
    # Was 36 before ADR 0900 (PostgreSQL 21 now, SQLite 22); issue 12 asks <= 12.
    assert len(got.statements) <= 22, got.statements


@pytest.mark.xfail(strict=True, reason="issue 12's goal (12 statements) is not reached yet")
def test_a_commit_sends_at_most_twelve_statements(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    commit(sessions, tenant, member, "warm-up")
    with counting(engine) as got:
        commit(sessions, tenant, member, "counted")
    assert len(got.statements) <= 12


def test_a_rule_change_is_seen_by_the_next_quote(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    before = quote(sessions, tenant, member)
    set_rules(sessions, tenant.merchant_id, points={**POINTS, "earn_points": 3})
    after = quote(sessions, tenant, member)
    assert after.points_to_earn == 3 * before.points_to_earn


def test_a_price_changed_by_raw_sql_is_seen_by_the_next_quote(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    before = quote(sessions, tenant, member)
    with transaction(sessions) as s:  # as a bulk import would: no ORM object involved
        s.execute(
            update(Product)
            .where(Product.merchant_id == tenant.merchant_id, Product.sku == "CUP-1")
            .values(price_minor=5500)
        )
    after = quote(sessions, tenant, member)
    assert after.subtotal_minor == before.subtotal_minor + 1000


def test_a_gift_that_runs_out_leaves_the_next_quote(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    rule_in = GiftRuleIn(
        name="Cup", min_spend_minor=100, gift_sku="CUP-1", gift_name="Cup", stock=2
    )
    with transaction(sessions) as s:
        gifts.create_rule(s, tenant.merchant_id, rule_in)
    assert [b.kind for b in quote(sessions, tenant, member).benefits].count("gift") == 1
    commit(sessions, tenant, member, "one")
    assert [b.kind for b in quote(sessions, tenant, member).benefits].count("gift") == 1
    commit(sessions, tenant, member, "two")  # the last one
    assert [b.kind for b in quote(sessions, tenant, member).benefits].count("gift") == 0


def test_a_rule_changed_in_the_same_transaction_is_seen_there(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    member = shop_with_member(sessions, tenant)
    before = quote(sessions, tenant, member)
    with transaction(sessions) as s:
        req = QuoteRequest.model_validate(request(member, tenant))
        checkout.quote(s, tenant.merchant_id, req, secret="x")
        s.execute(
            update(Product)
            .where(Product.merchant_id == tenant.merchant_id, Product.sku == "CUP-1")
            .values(price_minor=5500)
        )
        inside = checkout.quote(s, tenant.merchant_id, req, secret="x")
        s.rollback()
    assert inside.subtotal_minor == before.subtotal_minor + 1000
    assert quote(sessions, tenant, member).subtotal_minor == before.subtotal_minor
