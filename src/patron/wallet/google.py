"""Google Wallet "save" links: ``https://pay.google.com/gp/v/save/<JWT>``.

The JWT carries the loyalty object itself (no call to Google's API is needed to make the link)
and is signed RS256 with the merchant's service account key. The loyalty class (the shop's card
design, ``<issuer>.patron-membership``) is set up once in the Google Pay & Wallet console.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from patron.core.errors import InvalidInput

SAVE_URL = "https://pay.google.com/gp/v/save/"
CLASS_SUFFIX = "patron-membership"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_key(key_pem: str) -> rsa.RSAPrivateKey:
    """The service account's private key (PEM, as in its JSON key file's ``private_key``)."""
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "the service account key is not a PEM key", code="wallet_google_key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput("the service account key must be an RSA key", code="wallet_google_key")
    return key


def sign_jwt(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    header = {"alg": "RS256", "typ": "JWT"}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode())
        for part in (header, claims)
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def loyalty_object(
    *,
    issuer_id: str,
    serial: str,
    card_number: str,
    name: str,
    points: int,
    points_label: str,
    tier: str | None,
    tier_label: str,
    barcode: str,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"{issuer_id}.{serial}",
        "classId": f"{issuer_id}.{CLASS_SUFFIX}",
        "state": "ACTIVE",
        "accountId": card_number,
        "accountName": name,
        "loyaltyPoints": {"label": points_label, "balance": {"int": points}},
        "barcode": {"type": "QR_CODE", "value": barcode, "alternateText": card_number},
    }
    if tier:
        obj["textModulesData"] = [{"id": "tier", "header": tier_label, "body": tier}]
    return obj


def save_link(
    *, service_account: str, key: rsa.RSAPrivateKey, origin: str, obj: dict[str, Any], iat: int
) -> str:
    claims = {
        "iss": service_account,
        "aud": "google",
        "typ": "savetowallet",
        "iat": iat,
        "origins": [origin],
        "payload": {"loyaltyObjects": [obj]},
    }
    return SAVE_URL + sign_jwt(claims, key)
