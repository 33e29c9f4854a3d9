"""PostgreSQL: the same notification delivered by 10 threads at once credits once."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.payments.conftest import Shop
from tests.payments.test_payments import held, ledger_clean, order_of, start, top_up_entries


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_ten_deliveries_at_once_credit_once(
    sessions: sessionmaker[Session], shop: Shop, client: TestClient
) -> None:
    order = start(sessions, shop, "wechat_pay", 10000)
    fake = shop.fakes["wechat_pay"]
    trade = fake.trades[order.out_trade_no]
    trade.paid = True
    headers, body = fake.notification(trade)
    path = urlsplit(trade.notify_url).path
    barrier = threading.Barrier(10)
    answers: list[int] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(client.post(path, headers=headers, content=body).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [204] * 10
    assert held(sessions, shop) == (10000, 2000)
    assert top_up_entries(sessions, shop.tenant.merchant_id) == 1
    assert order_of(sessions, order.id).status == "paid"
    ledger_clean(sessions)
