"""Top-ups paid through WeChat Pay, Alipay and Stripe (local servers speaking their APIs):
credited exactly once, forged and replayed notifications refused, query on timeout, expiry."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.ledger.models import JournalEntry
from patron.ledger.verify import verify
from patron.payments import service
from patron.payments.models import PaymentOrder
from patron.payments.service import payments_task
from patron.programs import stored_value
from patron.programs.models import TopUp
from tests.conftest import Tenant, make_tenant
from tests.payments.conftest import PROVIDERS, Shop
from tests.payments.fakes import FakeAlipay, FakeStripe, FakeWeChatPay


def start(sessions: sessionmaker[Session], shop: Shop, provider: str, amount: int) -> PaymentOrder:
    order_id = service.start_payment(
        sessions,
        shop.tenant.merchant_id,
        shop.member_id,
        provider,
        amount,
        base_url="http://testserver",
        description="Top-up",
    )
    return order_of(sessions, order_id)


def order_of(sessions: sessionmaker[Session], order_id: int) -> PaymentOrder:
    with transaction(sessions) as s:
        order = s.get(PaymentOrder, order_id)
        assert order is not None
        s.expunge(order)
        return order


def held(sessions: sessionmaker[Session], shop: Shop) -> tuple[int, int]:
    with transaction(sessions) as s:
        b = stored_value.balance(s, shop.tenant.merchant_id, shop.member_id)
        return b.principal, b.bonus


def top_up_entries(sessions: sessionmaker[Session], merchant_id: int) -> int:
    with transaction(sessions) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(
                    JournalEntry.merchant_id == merchant_id, JournalEntry.reason_code == "top_up"
                )
            )
            or 0
        )


def ledger_clean(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        assert verify(s) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_and_notified_twice_credits_once(
    sessions: sessionmaker[Session], shop: Shop, provider: str
) -> None:
    order = start(sessions, shop, provider, 10000)
    assert order.status == "pending" and order.quoted_bonus_minor == 2000
    assert order.pay_data  # a QR code's content, or Stripe's client secret
    fake = shop.fakes[provider]
    assert fake.trades[order.out_trade_no].amount_minor == 10000
    assert (
        fake.pay(order.out_trade_no, notify=2) == [(204 if provider == "wechat_pay" else 200)] * 2
    )
    assert held(sessions, shop) == (10000, 2000)
    assert top_up_entries(sessions, shop.tenant.merchant_id) == 1
    paid = order_of(sessions, order.id)
    assert paid.status == "paid" and paid.top_up_id is not None
    assert paid.provider_txn_id
    # A query that also finds it paid changes nothing.
    assert service.check_payment(sessions, shop.tenant.merchant_id, order.id) == "paid"
    assert held(sessions, shop) == (10000, 2000)
    with transaction(sessions) as s:
        keys = s.scalars(select(TopUp.idempotency_key)).all()
    assert keys == [f"payment:{order.out_trade_no}"]
    ledger_clean(sessions)


def test_wechat_pay_requests_are_signed_with_the_merchant_key(
    sessions: sessionmaker[Session], shop: Shop
) -> None:
    order = start(sessions, shop, "wechat_pay", 500)
    fake = shop.fakes["wechat_pay"]
    assert fake.refused_auth == 0
    assert fake.calls == [("POST", "/v3/pay/transactions/native")]
    assert order.pay_data == {
        "qr": f"weixin://wxpay/bizpayurl?pr={fake.trades[order.out_trade_no].txn_id}"
    }


def test_alipay_amounts_are_yuan_strings(sessions: sessionmaker[Session], shop: Shop) -> None:
    order = start(sessions, shop, "alipay", 12345)
    assert shop.fakes["alipay"].trades[order.out_trade_no].amount_minor == 12345
    assert order.pay_data["qr"].startswith("https://qr.alipay.com/")


def _refused(client: TestClient, url: str, headers: dict[str, str], body: bytes) -> int:
    return client.post(urlsplit(url).path, headers=headers, content=body).status_code


@pytest.mark.parametrize("provider", PROVIDERS)
def test_forged_or_changed_notifications_are_refused(
    sessions: sessionmaker[Session], shop: Shop, client: TestClient, provider: str
) -> None:
    order = start(sessions, shop, provider, 10000)
    fake = shop.fakes[provider]
    trade = fake.trades[order.out_trade_no]
    trade.paid = True
    url = service.notify_url("http://testserver", provider, shop.tenant.merchant_id)
    headers, body = fake.notification(trade)
    # 1. the signed body with the amount changed (a replay with another amount)
    if isinstance(fake, FakeAlipay):
        changed = fake.tamper(headers, body, total_amount="1000.00")
    elif isinstance(fake, FakeWeChatPay):
        # a resource encrypted afresh with another amount, under the first signature
        _h, changed = fake.notification(trade, amount={"total": 100000, "currency": "CNY"})
    else:
        changed = body.replace(b'"total": 10000', b'"total": 100000').replace(
            b'"amount": 10000', b'"amount": 100000'
        )
        if isinstance(fake, FakeStripe):
            changed = changed.replace(b'"amount_received": 10000', b'"amount_received": 100000')
    assert changed != body
    assert _refused(client, url, headers, changed) == 403
    # 2. signed with a key that is not the provider's
    if isinstance(fake, FakeWeChatPay):
        forged = dict(headers)
        sig = forged["Wechatpay-Signature"]
        forged["Wechatpay-Signature"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        assert _refused(client, url, forged, body) == 403
    elif isinstance(fake, FakeStripe):
        forged = dict(headers)
        forged["Stripe-Signature"] = forged["Stripe-Signature"][:-4] + "0000"
        assert _refused(client, url, forged, body) == 403
    else:
        assert _refused(client, url, headers, fake.tamper(headers, body, sign="AAAA")) == 403
    # 3. properly signed, but the amount is not the order's
    if isinstance(fake, FakeWeChatPay):
        h, b = fake.notification(trade, amount={"total": 1, "currency": "CNY"})
    elif isinstance(fake, FakeAlipay):
        h, b = fake.notification(trade, total_amount="0.01")
    else:
        h, b = fake.notification(trade, amount=1, amount_received=1)
    assert _refused(client, url, h, b) == 403
    # 4. properly signed, for an order Patron never made
    if isinstance(fake, FakeStripe):
        h, b = fake.notification(trade, metadata={"out_trade_no": "pt-unknown"})
    else:
        h, b = fake.notification(trade, out_trade_no="pt-unknown")
    assert _refused(client, url, h, b) == 403
    assert held(sessions, shop) == (0, 0)
    assert order_of(sessions, order.id).status == "pending"
    assert top_up_entries(sessions, shop.tenant.merchant_id) == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_old_notification_is_a_replay(
    sessions: sessionmaker[Session],
    shop: Shop,
    client: TestClient,
    clock: FrozenClock,
    provider: str,
) -> None:
    order = start(sessions, shop, provider, 10000)
    fake = shop.fakes[provider]
    trade = fake.trades[order.out_trade_no]
    trade.paid = True
    headers, body = fake.notification(trade)
    clock.advance(timedelta(minutes=6))
    url = service.notify_url("http://testserver", provider, shop.tenant.merchant_id)
    assert _refused(client, url, headers, body) == 403
    assert held(sessions, shop) == (0, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_another_merchants_notify_address_refuses_the_order(
    sessions: sessionmaker[Session], shop: Shop, client: TestClient, provider: str
) -> None:
    """B has the same provider set up with the same keys (the worst case): A's notification
    sent to B's address names no order of B's, and changes nothing for either."""
    other = make_tenant(sessions, "bravo")
    with transaction(sessions) as s:
        url, creds = shop.fakes[provider].settings()
        service.put_settings(
            s, other.merchant_id, provider, enabled=True, base_url=url, credentials=creds
        )
    order = start(sessions, shop, provider, 10000)
    fake = shop.fakes[provider]
    trade = fake.trades[order.out_trade_no]
    trade.paid = True
    headers, body = fake.notification(trade)
    url_b = service.notify_url("http://testserver", provider, other.merchant_id)
    assert _refused(client, url_b, headers, body) == 403
    # A merchant with no settings for the provider has no notify address at all.
    third = make_tenant(sessions, "charlie")
    url_c = service.notify_url("http://testserver", provider, third.merchant_id)
    assert _refused(client, url_c, headers, body) == 404
    assert held(sessions, shop) == (0, 0)
    assert order_of(sessions, order.id).status == "pending"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_answer_then_the_query_credits(
    sessions: sessionmaker[Session], shop: Shop, clock: FrozenClock, provider: str
) -> None:
    """The create call times out (the provider made the payment, its answer was lost), the
    member pays, the notification never comes: the worker's query finds it paid."""
    fake = shop.fakes[provider]
    fake.stall_seconds = 3  # the settings' timeout is 2 s
    order = start(sessions, shop, provider, 50000)
    fake.stall_seconds = 0
    assert order.status == "pending" and order.pay_data == {}
    assert order.error and "no answer" in order.error
    trade = fake.trades[order.out_trade_no]  # the provider made it
    trade.paid = True  # and the member paid; the notification is lost
    clock.advance(timedelta(minutes=3))
    assert payments_task(sessions, None) == 1
    after = order_of(sessions, order.id)
    assert after.status == "paid"
    assert held(sessions, shop) == (50000, 15000)
    assert top_up_entries(sessions, shop.tenant.merchant_id) == 1
    ledger_clean(sessions)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unpaid_order_expires_and_a_late_payment_still_credits_once(
    sessions: sessionmaker[Session], shop: Shop, clock: FrozenClock, provider: str
) -> None:
    order = start(sessions, shop, provider, 10000)
    clock.advance(timedelta(minutes=16))
    assert payments_task(sessions, None) == 1
    assert order_of(sessions, order.id).status == "expired"
    assert payments_task(sessions, None) == 0  # nothing left to do
    # The member paid just before the code closed; the notification comes late, twice.
    fake = shop.fakes[provider]
    fake.pay(order.out_trade_no, notify=2)
    assert order_of(sessions, order.id).status == "paid"
    assert held(sessions, shop) == (10000, 2000)
    assert top_up_entries(sessions, shop.tenant.merchant_id) == 1


def test_expiry_asks_first_and_credits_a_paid_order(
    sessions: sessionmaker[Session], shop: Shop, clock: FrozenClock
) -> None:
    order = start(sessions, shop, "alipay", 10000)
    shop.fakes["alipay"].trades[order.out_trade_no].paid = True  # no notification
    clock.advance(timedelta(minutes=16))
    payments_task(sessions, None)
    assert order_of(sessions, order.id).status == "paid"
    assert held(sessions, shop) == (10000, 2000)


def test_a_provider_not_set_up_or_off_is_refused(
    sessions: sessionmaker[Session], shop: Shop
) -> None:
    from patron.core.errors import InvalidInput

    with transaction(sessions) as s:
        url, creds = shop.fakes["alipay"].settings()
        service.put_settings(
            s, shop.tenant.merchant_id, "alipay", enabled=False, base_url=url, credentials=creds
        )
    with pytest.raises(InvalidInput) as refused:
        start(sessions, shop, "alipay", 100)
    assert refused.value.code == "provider_not_available"
    with pytest.raises(InvalidInput) as bad:
        start(sessions, shop, "wechat_pay", 0)
    assert bad.value.code == "invalid_amount"
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(PaymentOrder)) == 0


def test_wechat_pay_and_alipay_only_for_yuan(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    usd = make_tenant(sessions, "usshop", currency="USD")
    with transaction(sessions) as s:
        for name in ("wechat_pay", "alipay", "stripe"):
            service.put_settings(
                s, usd.merchant_id, name, enabled=True, base_url=None, credentials={}
            )
        assert service.usable_providers(s, usd.merchant_id) == ["stripe"]
