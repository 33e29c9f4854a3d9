"""Finding the member at the till: by id, by phone, or by the membership QR code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import segno
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from patron.checkout.schemas import QuoteRequest
from patron.core.config import get_settings
from patron.core.db import UTCDateTime
from patron.core.errors import InvalidInput, NotFound
from patron.core.merchant_cache import saw_version
from patron.ledger.models import Asset
from patron.ledger.queries import MemberBalances
from patron.members.models import IdentityKind, Member
from patron.members.normalize import normalize_phone
from patron.members.service import find_by_identity, get_member, phone_region

QR_SALT = "patron.membership-qr"


def _serializer(secret: str | None) -> URLSafeSerializer:
    return URLSafeSerializer(secret or get_settings().secret_key, salt=QR_SALT)


def membership_qr_token(member: Member, secret: str | None = None) -> str:
    """A signed token naming the member (and merchant) for the membership card's QR code.
    It does not expire: revoking a card means rotating the secret (ADR 0355)."""
    return _serializer(secret).dumps({"m": member.merchant_id, "id": member.id})


def member_id_from_token(token: str, merchant_id: int, secret: str | None = None) -> int:
    try:
        data = _serializer(secret).loads(token)
    except BadSignature as exc:
        raise InvalidInput("this membership code is not valid", code="invalid_qr_token") from exc
    if not isinstance(data, dict) or data.get("m") != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    return int(data["id"])


def membership_qr_svg(member: Member, secret: str | None = None) -> str:
    """The membership card's QR code as an SVG document (for the portal and the dashboard)."""
    qr = segno.make(membership_qr_token(member, secret), error="m")
    return str(qr.svg_inline(scale=6, border=2))


def find_member(
    session: Session, merchant_id: int, req: QuoteRequest, secret: str | None
) -> Member | None:
    """The member the till names (None when the cart has no member)."""
    if req.member_id is not None:
        member = get_member(session, merchant_id, req.member_id)
    elif req.qr_token is not None:
        member = get_member(
            session, merchant_id, member_id_from_token(req.qr_token, merchant_id, secret)
        )
    elif req.phone is not None:
        phone = normalize_phone(req.phone, phone_region(session, merchant_id))
        found = find_by_identity(session, merchant_id, IdentityKind.PHONE.value, phone, "")
        if found is None:
            raise NotFound("no member with this phone", code="member_not_found")
        member = found
    else:
        return None
    if member.merged_into_id is not None:
        member = get_member(session, merchant_id, member.merged_into_id)
    return member


@dataclass(frozen=True)
class MemberState:
    """What a quote needs to know of the member besides the cart, read in one statement: the
    merchant's set-up version (ADR 0900), the member's tier code and every balance."""

    version: int
    tier_code: str | None
    balances: MemberBalances


_STATE = text(
    "SELECT 'v' AS k, NULL AS code, version AS n FROM merchant_versions WHERE merchant_id = :m "
    "UNION ALL SELECT 't', tier_code, NULL FROM member_tiers "
    "WHERE merchant_id = :m AND member_id = :mem "
    "UNION ALL SELECT 'a', asset, balance FROM ledger_accounts "
    "WHERE merchant_id = :m AND member_id = :mem "
    "UNION ALL SELECT 'x', NULL, coalesce(sum(remaining), 0) FROM points_lots "
    "WHERE merchant_id = :m AND member_id = :mem AND released_at IS NOT NULL "
    "AND expires_at <= :now"
).bindparams(bindparam("now", type_=UTCDateTime()))


def member_state(session: Session, merchant_id: int, member_id: int, now: datetime) -> MemberState:
    """The member's tier code and balances (points split as :func:`member_balances` splits
    them: past-expiry points are not spendable) and the merchant's set-up version, which this
    transaction then uses for the merchant cache."""
    version, tier_code, past = 0, None, 0
    balances = {asset.value: 0 for asset in Asset}
    for kind, code, amount in session.execute(
        _STATE, {"m": merchant_id, "mem": member_id, "now": now}
    ):
        if kind == "v":
            version = int(amount)
        elif kind == "t":
            tier_code = code
        elif kind == "a":
            balances[code] = int(amount)
        else:  # PostgreSQL's SUM of a bigint is a numeric (a Decimal in Python)
            past = int(amount or 0)
    saw_version(session, merchant_id, version)
    points = balances[Asset.POINTS.value]
    return MemberState(
        version,
        tier_code,
        MemberBalances(
            member_id=member_id,
            balances=balances,
            points_spendable=max(0, points - past),
            points_pending=balances[Asset.POINTS_PENDING.value],
            points_past_expiry=past,
        ),
    )
