"""The merchant's shop as a till sees it — currency and stores — from the merchant cache while
the merchant's set-up version holds (ADR 0900). Plain frozen data, not ORM rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound
from patron.core.merchant_cache import MERCHANT_CACHE, merchant_version
from patron.tenancy.models import Merchant, Store


@dataclass(frozen=True)
class ShopStore:
    id: int
    code: str
    channel: str


@dataclass(frozen=True)
class Shop:
    currency: str
    stores_by_id: dict[int, ShopStore]
    stores_by_code: dict[str, ShopStore]


def shop(session: Session, merchant_id: int) -> Shop:
    """The merchant's currency and stores (cached; see the module's docstring)."""

    def load() -> Shop:
        currency = session.scalar(select(Merchant.currency).where(Merchant.id == merchant_id))
        rows = session.execute(
            select(Store.id, Store.code, Store.channel).where(Store.merchant_id == merchant_id)
        ).all()
        stores = [ShopStore(r.id, r.code, r.channel) for r in rows]
        return Shop(str(currency), {s.id: s for s in stores}, {s.code: s for s in stores})

    return MERCHANT_CACHE.part(merchant_id, merchant_version(session, merchant_id), "shop", load)


def find_store(
    session: Session, merchant_id: int, store_id: int | None, store_code: str | None
) -> ShopStore | None:
    """The store named by id or code (None when neither is given); 404 ``store_not_found`` if
    the merchant has no such store."""
    if store_id is None and store_code is None:
        return None
    known = shop(session, merchant_id)
    found = (
        known.stores_by_id.get(store_id)
        if store_id is not None
        else known.stores_by_code.get(store_code or "")
    )
    if found is None:
        raise NotFound("store not found", code="store_not_found")
    return found
