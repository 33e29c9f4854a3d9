"""What a format reader needs to know about the merchant it imports for."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.imports.reading import currency_exponent
from patron.members.service import phone_region
from patron.tenancy.models import Merchant, Store


@dataclass(slots=True)
class ImportContext:
    merchant_id: int
    currency: str
    exponent: int
    zone: ZoneInfo
    region: str
    namespace: str
    store_codes: dict[str, str]  # lower-cased code or name -> store code

    @classmethod
    def load(cls, session: Session, merchant_id: int, namespace: str) -> ImportContext:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise ValueError(f"no merchant {merchant_id}")
        codes: dict[str, str] = {}
        for store in session.scalars(select(Store).where(Store.merchant_id == merchant_id)):
            codes[store.name.lower()] = store.code
            codes[store.code.lower()] = store.code
        return cls(
            merchant_id=merchant_id,
            currency=merchant.currency,
            exponent=currency_exponent(merchant.currency),
            zone=ZoneInfo(merchant.timezone),
            region=phone_region(session, merchant_id),
            namespace=namespace,
            store_codes=codes,
        )
