"""Wallet passes: the merchant's settings, a member's pass (Apple and Google), the PassKit web
service's registrations, and keeping passes current (ADR 1330).

A pass is "changed" when an outbox event says the member's points, tier, stored value or name
changed: :func:`follow_events` (a worker task) moves the pass's ``changed_at`` to the event's
time and asks the push service to tell each registered device. The device then lists the serials
changed since its last tag and fetches the pass again (``Last-Modified`` = ``changed_at``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout.members import membership_qr_token
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import InvalidInput, NotFound
from patron.core.events import OutboxEvent, consume_outbox
from patron.core.money import to_major
from patron.i18n import N_, translations_for
from patron.ledger import queries
from patron.ledger.models import Asset
from patron.members.language import language_of
from patron.members.models import Member
from patron.members.service import get_member
from patron.programs import rules, tiers
from patron.tenancy.models import Merchant
from patron.wallet import apple, google
from patron.wallet.models import WalletPass, WalletRegistration, WalletSettings

log = logging.getLogger("patron.wallet")
CURSOR = "wallet"
# Events after which what a pass shows may differ.
CHANGES = frozenset(
    {
        "points.earned",
        "points.spent",
        "points.expired",
        "balance.adjusted",
        "tier.changed",
        "stored_value.topped_up",
        "stored_value.top_up_refunded",
        "mall.redeemed",
        "member.updated",
        "member.merged",
    }
)
SECRET_KEYS = ("apple_certificate", "apple_key", "apple_wwdr", "google_key")
WEB_SERVICE_PATH = "/api/wallet"


# ---------------------------------------------------------------- settings


def settings_of(session: Session, merchant_id: int) -> WalletSettings | None:
    return session.scalar(select(WalletSettings).where(WalletSettings.merchant_id == merchant_id))


@dataclass(frozen=True)
class SettingsIn:
    apple_pass_type_id: str = ""
    apple_team_id: str = ""
    google_issuer_id: str = ""
    google_service_account: str = ""
    # Secrets: blank keeps what is stored (ADR 0861).
    apple_certificate: str = ""
    apple_key: str = ""
    apple_wwdr: str = ""
    google_key: str = ""


def save_settings(session: Session, merchant_id: int, given: SettingsIn) -> WalletSettings:
    """Store the merchant's wallet settings; a certificate, key or WWDR text that does not read,
    or a key that is not the certificate's, is refused and nothing changes."""
    row = settings_of(session, merchant_id)
    creds = dict(row.credentials) if row else {}
    for key in SECRET_KEYS:
        value = getattr(given, key).strip()
        if value:
            creds[key] = value
    apple_parts = [creds.get(k) for k in ("apple_certificate", "apple_key", "apple_wwdr")]
    if any(apple_parts):
        if not all(apple_parts):
            raise InvalidInput(
                "the pass certificate, its key and the WWDR certificate go together",
                code="wallet_apple_incomplete",
            )
        apple.load_signer(*apple_parts)  # type: ignore[arg-type]
    if creds.get("google_key"):
        google.load_key(creds["google_key"])
    if row is None:
        row = WalletSettings(merchant_id=merchant_id, credentials={})
        session.add(row)
    row.apple_pass_type_id = given.apple_pass_type_id.strip() or None
    row.apple_team_id = given.apple_team_id.strip() or None
    row.google_issuer_id = given.google_issuer_id.strip() or None
    row.google_service_account = given.google_service_account.strip() or None
    row.credentials = creds
    row.updated_at = utcnow(session)
    session.flush()
    return row


def apple_ready(row: WalletSettings | None) -> bool:
    return bool(
        row
        and row.apple_pass_type_id
        and row.apple_team_id
        and all(row.credentials.get(k) for k in ("apple_certificate", "apple_key", "apple_wwdr"))
    )


def google_ready(row: WalletSettings | None) -> bool:
    return bool(
        row
        and row.google_issuer_id
        and row.google_service_account
        and row.credentials.get("google_key")
    )


# ---------------------------------------------------------------- passes


def pass_of(session: Session, merchant_id: int, member_id: int) -> WalletPass:
    """The member's pass, made on first use (its serial carries the merchant: the web service's
    URLs name no merchant)."""
    row = session.scalar(
        select(WalletPass).where(
            WalletPass.merchant_id == merchant_id, WalletPass.member_id == member_id
        )
    )
    if row is None:
        now = utcnow(session)
        row = WalletPass(
            merchant_id=merchant_id,
            member_id=member_id,
            serial=f"{merchant_id}-{secrets.token_hex(12)}",
            created_at=now,
            changed_at=now,
        )
        session.add(row)
        session.flush()
    return row


def auth_token(secret: str, serial: str) -> str:
    """The pass's authenticationToken: keyed by the app's secret, so nothing is stored."""
    return hmac.new(secret.encode(), f"wallet-pass:{serial}".encode(), hashlib.sha256).hexdigest()[
        :40
    ]


@dataclass(frozen=True)
class CardFacts:
    """What a wallet card shows, read from the ledger and the programs."""

    name: str
    card_number: str
    points: int
    stored_value_minor: int
    currency: str
    tier: str | None
    language: str
    shop: str


def card_facts(session: Session, merchant_id: int, member: Member) -> CardFacts:
    merchant = session.get(Merchant, merchant_id)
    assert merchant is not None
    found = queries.member_balances(session, merchant_id, member.id)
    stored = found.balances[Asset.STORED_PRINCIPAL.value] + found.balances[Asset.STORED_BONUS.value]
    tier_name = None
    rule = rules.tiers_rule(session, merchant_id, utcnow(session))
    if rule is not None:
        row = tiers.member_tier(session, merchant_id, member.id)
        tier_name = tiers.tier_of(rule.config, row.tier_code if row else None).name
    return CardFacts(
        name=member.display_name,
        card_number=f"{member.id:06d}",
        points=found.points_spendable,
        stored_value_minor=stored,
        currency=merchant.currency,
        tier=tier_name,
        language=language_of(session, member).code,
        shop=merchant.name,
    )


LABELS = {
    "description": N_("Membership card"),
    "points": N_("Points"),
    "member": N_("Member"),
    "tier": N_("Tier"),
    "stored": N_("Stored value"),
    "card": N_("Card no."),
}


def _labels(language: str) -> dict[str, str]:
    tr = translations_for(language)
    return {key: tr.gettext(text) for key, text in LABELS.items()}


def pass_json(
    facts: CardFacts,
    row: WalletPass,
    settings_row: WalletSettings,
    *,
    barcode: str,
    base_url: str,
    secret: str,
) -> dict[str, Any]:
    labels = _labels(facts.language)
    secondary: list[dict[str, Any]] = [
        {"key": "member", "label": labels["member"], "value": facts.name}
    ]
    if facts.tier:
        secondary.append({"key": "tier", "label": labels["tier"], "value": facts.tier})
    return {
        "formatVersion": 1,
        "passTypeIdentifier": settings_row.apple_pass_type_id,
        "teamIdentifier": settings_row.apple_team_id,
        "serialNumber": row.serial,
        "organizationName": facts.shop,
        "description": labels["description"],
        "logoText": facts.shop,
        "webServiceURL": base_url.rstrip("/") + WEB_SERVICE_PATH,
        "authenticationToken": auth_token(secret, row.serial),
        "foregroundColor": "rgb(255, 255, 255)",
        "backgroundColor": "rgb(31, 58, 95)",
        "labelColor": "rgb(200, 214, 232)",
        "storeCard": {
            "primaryFields": [{"key": "points", "label": labels["points"], "value": facts.points}],
            "secondaryFields": secondary,
            "auxiliaryFields": [
                {
                    "key": "stored",
                    "label": labels["stored"],
                    "value": float(to_major(facts.stored_value_minor, facts.currency)),
                    "currencyCode": facts.currency,
                },
                {"key": "card", "label": labels["card"], "value": facts.card_number},
            ],
        },
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": barcode,
                "messageEncoding": "iso-8859-1",
                "altText": facts.card_number,
            }
        ],
    }


def _ready_settings(session: Session, merchant_id: int) -> WalletSettings:
    row = settings_of(session, merchant_id)
    if not apple_ready(row):
        raise NotFound("Apple Wallet is not set up", code="wallet_not_set_up")
    assert row is not None
    return row


def apple_pass(
    session: Session, merchant_id: int, member_id: int, *, base_url: str, secret: str
) -> tuple[bytes, WalletPass]:
    """The member's signed ``.pkpass`` (made on first use) and its pass row."""
    member = get_member(session, merchant_id, member_id)
    row_settings = _ready_settings(session, merchant_id)
    row = pass_of(session, merchant_id, member_id)
    facts = card_facts(session, merchant_id, member)
    body = pass_json(
        facts,
        row,
        row_settings,
        barcode=membership_qr_token(member, secret),
        base_url=base_url,
        secret=secret,
    )
    creds = row_settings.credentials
    signer = apple.load_signer(creds["apple_certificate"], creds["apple_key"], creds["apple_wwdr"])
    return apple.build_pkpass(body, facts.shop, signer), row


def google_save_link(
    session: Session, merchant_id: int, member_id: int, *, base_url: str, secret: str
) -> str:
    member = get_member(session, merchant_id, member_id)
    row_settings = settings_of(session, merchant_id)
    if not google_ready(row_settings):
        raise NotFound("Google Wallet is not set up", code="wallet_not_set_up")
    assert row_settings is not None
    row = pass_of(session, merchant_id, member_id)
    facts = card_facts(session, merchant_id, member)
    labels = _labels(facts.language)
    obj = google.loyalty_object(
        issuer_id=row_settings.google_issuer_id or "",
        serial=row.serial,
        card_number=facts.card_number,
        name=facts.name,
        points=facts.points,
        points_label=labels["points"],
        tier=facts.tier,
        tier_label=labels["tier"],
        barcode=membership_qr_token(member, secret),
    )
    return google.save_link(
        service_account=row_settings.google_service_account or "",
        key=google.load_key(row_settings.credentials["google_key"]),
        origin=base_url.rstrip("/"),
        obj=obj,
        iat=int(utcnow(session).timestamp()),
    )


# ---------------------------------------------------------------- PassKit web service


def _tag(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000))


def find_pass(
    session: Session, pass_type_id: str, serial: str
) -> tuple[WalletPass, WalletSettings]:
    """The pass of this serial whose merchant's pass type is ``pass_type_id``; else NotFound."""
    head = serial.split("-", 1)[0]
    if not head.isdigit():
        raise NotFound("pass not found", code="wallet_pass_not_found")
    merchant_id = int(head)
    row = session.scalar(
        select(WalletPass).where(WalletPass.merchant_id == merchant_id, WalletPass.serial == serial)
    )
    found = settings_of(session, merchant_id)
    if row is None or found is None or found.apple_pass_type_id != pass_type_id:
        raise NotFound("pass not found", code="wallet_pass_not_found")
    return row, found


def authorised(secret: str, serial: str, header: str | None) -> bool:
    """``Authorization: ApplePass <authenticationToken>``."""
    if not header or not header.startswith("ApplePass "):
        return False
    return hmac.compare_digest(
        header.removeprefix("ApplePass ").strip(), auth_token(secret, serial)
    )


def register(session: Session, row: WalletPass, device_id: str, push_token: str) -> bool:
    """Register ``device_id`` for the pass; True when new (201), False when it was (200)."""
    if not device_id or len(device_id) > 128 or not push_token or len(push_token) > 200:
        raise InvalidInput("bad device or push token", code="wallet_bad_registration")
    found = session.scalar(
        select(WalletRegistration).where(
            WalletRegistration.merchant_id == row.merchant_id,
            WalletRegistration.pass_id == row.id,
            WalletRegistration.device_id == device_id,
        )
    )
    if found is not None:
        found.push_token = push_token
        return False
    session.add(
        WalletRegistration(
            merchant_id=row.merchant_id,
            pass_id=row.id,
            device_id=device_id,
            push_token=push_token,
            created_at=utcnow(session),
        )
    )
    session.flush()
    return True


def unregister(session: Session, row: WalletPass, device_id: str) -> None:
    found = session.scalar(
        select(WalletRegistration).where(
            WalletRegistration.merchant_id == row.merchant_id,
            WalletRegistration.pass_id == row.id,
            WalletRegistration.device_id == device_id,
        )
    )
    if found is not None:
        session.delete(found)


def updated_serials(
    session: Session, device_id: str, pass_type_id: str, since: str | None
) -> tuple[list[str], str | None]:
    """Serials of this pass type registered on the device and changed after the tag ``since``
    (all of them without one), and the new tag; ``([], None)`` when there are none."""
    rows = session.execute(
        select(WalletPass.serial, WalletPass.changed_at)
        .join(
            WalletRegistration,
            (WalletRegistration.pass_id == WalletPass.id)
            & (WalletRegistration.merchant_id == WalletPass.merchant_id),
        )
        .join(WalletSettings, WalletSettings.merchant_id == WalletPass.merchant_id)
        .where(
            WalletRegistration.device_id == device_id,
            WalletSettings.apple_pass_type_id == pass_type_id,
        )
    ).all()
    if not rows:
        return [], None
    floor = int(since) if since and since.isdigit() else -1
    changed = sorted(r.serial for r in rows if int(_tag(r.changed_at)) > floor)
    latest = max(int(_tag(r.changed_at)) for r in rows)
    return changed, str(max(latest, floor))


def registrations(session: Session, merchant_id: int, limit: int = 50) -> list[Any]:
    """The devices holding the merchant's passes, newest first (for the settings page)."""
    return list(
        session.execute(
            select(
                WalletRegistration.device_id,
                WalletRegistration.push_token,
                WalletRegistration.created_at,
                WalletRegistration.pushed_at,
                WalletPass.member_id,
            )
            .join(
                WalletPass,
                (WalletPass.id == WalletRegistration.pass_id)
                & (WalletPass.merchant_id == WalletRegistration.merchant_id),
            )
            .where(WalletRegistration.merchant_id == merchant_id)
            .order_by(WalletRegistration.id.desc())
            .limit(limit)
        ).all()
    )


# ---------------------------------------------------------------- keeping passes current


class PushService(Protocol):
    """Tells a device that a pass changed (Apple Push Notification service, an empty payload to
    the pass type's topic). Returns True when the push was handed over."""

    def push(self, pass_type_id: str, push_token: str) -> bool: ...


class NoPush:
    """The default: APNs is not reachable from here, so nothing is sent; devices still pick up
    changes when Wallet next asks (on opening the pass, or pulling to refresh)."""

    def push(self, pass_type_id: str, push_token: str) -> bool:
        log.info("wallet push not sent: no push service set up", extra={"topic": pass_type_id})
        return False


PUSH: list[PushService] = [NoPush()]


def set_push_service(service: PushService) -> None:
    PUSH[0] = service


def _member_of(event: OutboxEvent) -> int | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    value = payload.get("id", event.subject_id) if event.type.startswith("member.") else None
    if value is None:
        value = payload.get("member_id")
    return value if isinstance(value, int) else None


def mark_changed(session: Session, events: Iterable[OutboxEvent]) -> int:
    """Move the passes of the events' members to the event's time and push to their devices;
    returns how many passes changed."""
    latest: dict[tuple[int, int], datetime] = {}
    for event in events:
        member_id = _member_of(event) if event.type in CHANGES else None
        if member_id is None:
            continue
        key = (event.merchant_id, member_id)
        latest[key] = max(latest.get(key, event.occurred_at), event.occurred_at)
    changed = 0
    now = utcnow(session)
    for (merchant_id, member_id), _at in latest.items():
        row = session.scalar(
            select(WalletPass).where(
                WalletPass.merchant_id == merchant_id, WalletPass.member_id == member_id
            )
        )
        if row is None:
            continue
        # The time it is now, not the event's: a device's tag is a time it saw, and an event
        # written earlier but read now must still count as new to it.
        row.changed_at = max(now, row.changed_at)
        changed += 1
        found = settings_of(session, merchant_id)
        topic = found.apple_pass_type_id if found else None
        for reg in session.scalars(
            select(WalletRegistration).where(
                WalletRegistration.merchant_id == merchant_id,
                WalletRegistration.pass_id == row.id,
            )
        ):
            if topic and PUSH[0].push(topic, reg.push_token):
                reg.pushed_at = now
    return changed


def follow_events(session: Session, batch: int = 500) -> int:
    def handle(events: list[OutboxEvent]) -> None:
        mark_changed(session, events)

    return consume_outbox(session, CURSOR, handle, batch=batch)


def follow_events_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return follow_events(session)
