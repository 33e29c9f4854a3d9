"""Coupon test helpers: templates, carts and checkout commits through the real services."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from patron.checkout.schemas import CommitRequest
from patron.checkout.service import commit
from patron.core.db import transaction
from patron.coupons import service
from patron.coupons.schemas import TemplateIn
from patron.programs.benefits import Cart, CartLine


def template(sessions: sessionmaker[Session], merchant_id: int, **fields: Any) -> int:
    data: dict[str, Any] = {"name": "10 off", "kind": "amount_off", "amount_off_minor": 1000}
    data.update(fields)
    with transaction(sessions) as s:
        return service.create_template(s, merchant_id, TemplateIn(**data)).id


def issue(
    sessions: sessionmaker[Session], merchant_id: int, template_id: int, member_id: int
) -> str:
    with transaction(sessions) as s:
        return service.issue_code(s, merchant_id, template_id, member_id).code


def cart(*lines: tuple[str, str, int, int], discount: int = 0, store_id: int | None = None) -> Cart:
    """Lines as (sku, category, quantity, unit price)."""
    return Cart(
        store_id,
        None,
        [
            CartLine(no, sku, sku, cat, qty, price, discount)
            for no, (sku, cat, qty, price) in enumerate(lines, start=1)
        ],
    )


def checkout(
    sessions: sessionmaker[Session],
    merchant_id: int,
    member_id: int,
    key: str,
    lines: list[dict[str, Any]],
    codes: list[str] | None = None,
) -> dict[str, Any]:
    with transaction(sessions) as s:
        out = commit(
            s,
            merchant_id,
            CommitRequest(member_id=member_id, lines=lines, coupon_codes=codes or []),
            key,
            "test",
            secret="test-secret-key-0123456789",
        )
        return out.model_dump(mode="json")
