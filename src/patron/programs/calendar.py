"""Calendar rules in the merchant's time zone (ARCHITECTURE §3.5): local dates, months, expiry."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from patron.programs.config import Expiry
from patron.tenancy.models import Merchant

_ZONES = "patron.merchant_zones"


def merchant_zone(session: Session, merchant_id: int) -> ZoneInfo:
    """The merchant's time zone, read once per session (a checkout asks for it several times;
    a change of time zone takes effect from the next request)."""
    zones: dict[int, ZoneInfo] = session.info.setdefault(_ZONES, {})
    if merchant_id not in zones:
        loaded = session.identity_map.get(identity_key(Merchant, merchant_id))
        tz: str | None
        if loaded is not None and "timezone" in loaded.__dict__:  # read already (checkout)
            tz = loaded.timezone
        else:
            tz = session.scalar(select(Merchant.timezone).where(Merchant.id == merchant_id))
        zones[merchant_id] = ZoneInfo(tz or "UTC")
    return zones[merchant_id]


def merchant_currency(session: Session, merchant_id: int) -> str:
    """The merchant's currency (ISO 4217), from the session's identity map when loaded."""
    loaded = session.identity_map.get(identity_key(Merchant, merchant_id))
    if loaded is not None and "currency" in loaded.__dict__:
        return str(loaded.currency)
    return str(session.scalar(select(Merchant.currency).where(Merchant.id == merchant_id)))


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day if it is shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def start_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def expiry_at(expiry: Expiry, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
    """When points earned at ``earned_at`` expire: the end of the local day they reach.

    rolling: N months after earning; end_of_month: the end of the month N months after
    earning; end_of_year: the end of the year N months after earning.
    """
    if expiry.mode == "never":
        return None
    local = earned_at.astimezone(zone).date()
    target = add_months(local, expiry.months)
    if expiry.mode == "end_of_month":
        target = date(target.year, target.month, monthrange(target.year, target.month)[1])
    elif expiry.mode == "end_of_year":
        target = date(target.year, 12, 31)
    return start_of_local_day(target + timedelta(days=1), zone)


def months_before(at: datetime, months: int, zone: ZoneInfo) -> datetime:
    """The start of the local day ``months`` before ``at``."""
    return start_of_local_day(add_months(at.astimezone(zone).date(), -months), zone)
