"""Helpers shared by the payment providers: HTTP calls, RSA signatures, amounts."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from patron.payments.providers.base import (
    ProviderMisconfigured,
    ProviderRefused,
    ProviderSettings,
    ProviderUnavailable,
)

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A notification older (or newer) than this is a replay (or a wrong clock): refused.
NOTIFY_TOLERANCE_SECONDS = 300


def timeout_of(settings: ProviderSettings) -> httpx.Timeout:
    """The provider timeout: ``timeout_seconds`` in the settings, else 10 s."""
    seconds = settings.get("timeout_seconds")
    return httpx.Timeout(float(seconds)) if seconds else HTTP_TIMEOUT


def call(settings: ProviderSettings, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; no answer, or a 5xx/429, is :class:`ProviderUnavailable` (ask again
    later), another 4xx is :class:`ProviderRefused`."""
    try:
        with httpx.Client(timeout=timeout_of(settings)) as client:
            response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"no answer: {type(exc).__name__}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderUnavailable(f"{response.status_code}: {response.text[:200]}")
    return response


def refused(response: httpx.Response) -> ProviderRefused:
    return ProviderRefused(f"{response.status_code}: {response.text[:200]}")


def private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem(pem, "PRIVATE KEY"), password=None)
    except ValueError as exc:
        raise ProviderMisconfigured("the private key is not a PEM RSA key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ProviderMisconfigured("the private key is not an RSA key")
    return key


def public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        raw = _pem(pem, "PUBLIC KEY")
        if b"CERTIFICATE" in raw:
            from cryptography import x509

            key: Any = x509.load_pem_x509_certificate(raw).public_key()
        else:
            key = serialization.load_pem_public_key(raw)
    except ValueError as exc:
        raise ProviderMisconfigured("the public key is not a PEM RSA key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProviderMisconfigured("the public key is not an RSA key")
    return key


def _pem(text: str, kind: str) -> bytes:
    """A PEM as pasted: with its armour, or the bare base64 Alipay's console shows."""
    text = text.strip()
    if "-----BEGIN" not in text:
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        text = f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"
    return text.encode()


def rsa_sign(pem: str, message: bytes) -> str:
    """Base64 RSASSA-PKCS1-v1_5 with SHA-256 (WeChat Pay's and Alipay's RSA2)."""
    signature = private_key(pem).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(pem: str, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key(pem).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def yuan(minor: int) -> str:
    """Fen as Alipay's ``total_amount``: ``1234`` → ``"12.34"``."""
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


def fen(amount: str) -> int:
    """Alipay's ``"12.34"`` → ``1234`` (anything else: ValueError)."""
    value = Decimal(amount) * 100
    if value != value.to_integral_value():
        raise ValueError(f"not an amount in yuan: {amount!r}")
    return int(value)
