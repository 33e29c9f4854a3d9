"""The member's refund of unused prepaid principal, paid back through the provider, with the
bonus forfeited in proportion (ADR 1312): exact values."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, NotFound
from patron.ledger.models import JournalEntry
from patron.payments import service
from patron.payments.service import payments_task
from patron.programs.models import TopUp
from tests.payments.conftest import PROVIDERS, Shop, make_member
from tests.payments.test_payments import held, ledger_clean, order_of, start
from tests.programs.helpers import STORED, set_rules


def paid_top_up(sessions: sessionmaker[Session], shop: Shop, provider: str, amount: int) -> int:
    order = start(sessions, shop, provider, amount)
    shop.fakes[provider].pay(order.out_trade_no)
    assert order_of(sessions, order.id).status == "paid"
    return order.id


def spend(sessions: sessionmaker[Session], shop: Shop, amount: int, key: str) -> None:
    with transaction(sessions) as s:
        checkout.commit(
            s,
            shop.tenant.merchant_id,
            CommitRequest(
                member_id=shop.member_id,
                stored_value=amount,
                lines=[{"name": "Tea", "quantity": 1, "unit_price_minor": amount}],
            ),
            key,
            "clerk",
        )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unused_principal_back_and_bonus_forfeited_in_proportion(
    sessions: sessionmaker[Session], shop: Shop, provider: str
) -> None:
    """¥100.00 paid, ¥20.00 bonus; ¥30.00 spent (principal first): ¥70.00 goes back, and
    floor(2000 × 7000 / 10000) = ¥14.00 of bonus goes with it; the member keeps ¥6.00."""
    order_id = paid_top_up(sessions, shop, provider, 10000)
    spend(sessions, shop, 3000, "buy-1")
    assert held(sessions, shop) == (7000, 2000)
    service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    after = order_of(sessions, order_id)
    assert (after.status, after.refund_minor, after.bonus_forfeited_minor) == (
        "refunded",
        7000,
        1400,
    )
    assert after.refund_txn_id
    assert held(sessions, shop) == (0, 600)
    fake = shop.fakes[provider]
    assert fake.trades[after.out_trade_no].refunds == {f"{after.out_trade_no}r": 7000}
    with transaction(sessions) as s:
        top = s.get(TopUp, after.top_up_id)
        assert top is not None and (top.status, top.refunded_cash_minor) == ("refunded", 7000)
        refunds = s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.reason_code == "top_up_refund")
        )
    assert refunds == 1
    # Asked again: refused, nothing more paid back.
    with pytest.raises(BusinessRuleViolation):
        service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    assert fake.trades[after.out_trade_no].refunds == {f"{after.out_trade_no}r": 7000}
    ledger_clean(sessions)


def test_bonus_spent_first_is_taken_from_the_cash(
    sessions: sessionmaker[Session], shop: Shop
) -> None:
    """Bonus first: ¥30.00 spent = ¥20.00 bonus + ¥10.00 principal. ¥90.00 unused principal;
    its share of the bonus, floor(2000 × 9000 / 10000) = ¥18.00, was spent already, so it
    comes off the cash: ¥72.00 back, nothing left."""
    set_rules(
        sessions, shop.tenant.merchant_id, stored_value={**STORED, "spend_order": "bonus_first"}
    )
    order_id = paid_top_up(sessions, shop, "wechat_pay", 10000)
    spend(sessions, shop, 3000, "buy-1")
    assert held(sessions, shop) == (9000, 0)
    service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    after = order_of(sessions, order_id)
    assert (after.refund_minor, after.bonus_forfeited_minor) == (7200, 0)
    assert held(sessions, shop) == (0, 0)
    ledger_clean(sessions)


def test_rounding_favours_the_member(sessions: sessionmaker[Session], shop: Shop) -> None:
    """¥100.01 paid, ¥20.00 bonus, ¥0.01 spent: floor(2000 × 10000 / 10001) = 1999 forfeited
    (1999.8 rounded down); the member keeps 1 fen of bonus."""
    order_id = paid_top_up(sessions, shop, "alipay", 10001)
    spend(sessions, shop, 1, "buy-1")
    service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    after = order_of(sessions, order_id)
    assert (after.refund_minor, after.bonus_forfeited_minor) == (10000, 1999)
    assert held(sessions, shop) == (0, 1)
    assert shop.fakes["alipay"].trades[after.out_trade_no].refunds == {
        f"{after.out_trade_no}r": 10000
    }


def test_nothing_spent_is_a_whole_refund(sessions: sessionmaker[Session], shop: Shop) -> None:
    order_id = paid_top_up(sessions, shop, "stripe", 50000)
    assert held(sessions, shop) == (50000, 15000)
    service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    after = order_of(sessions, order_id)
    assert (after.refund_minor, after.bonus_forfeited_minor) == (50000, 15000)
    assert held(sessions, shop) == (0, 0)


def test_provider_down_the_worker_sends_the_refund_again(
    sessions: sessionmaker[Session], shop: Shop, clock: object
) -> None:
    from datetime import timedelta

    order_id = paid_top_up(sessions, shop, "wechat_pay", 10000)
    fake = shop.fakes["wechat_pay"]
    fake.stall_seconds = 3  # the refund is made, its answer lost
    service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, order_id)
    fake.stall_seconds = 0
    after = order_of(sessions, order_id)
    assert after.status == "refund_pending" and after.refund_minor == 10000
    assert held(sessions, shop) == (0, 0)  # the member can no longer spend it
    clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    assert payments_task(sessions, None) == 1
    assert order_of(sessions, order_id).status == "refunded"
    # The same refund number both times: refunded once at the provider.
    assert fake.trades[after.out_trade_no].refunds == {f"{after.out_trade_no}r": 10000}


def test_only_the_members_own_paid_order(sessions: sessionmaker[Session], shop: Shop) -> None:
    order_id = paid_top_up(sessions, shop, "wechat_pay", 10000)
    other = make_member(sessions, shop.tenant.merchant_id, "+8613800138001")
    with pytest.raises(NotFound):
        service.request_refund(sessions, shop.tenant.merchant_id, other, order_id)
    pending = start(sessions, shop, "wechat_pay", 500)
    with pytest.raises(BusinessRuleViolation):
        service.request_refund(sessions, shop.tenant.merchant_id, shop.member_id, pending.id)
    assert held(sessions, shop) == (10000, 2000)
