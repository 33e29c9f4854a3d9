"""Apple Wallet passes (``.pkpass``): pass.json, the images, manifest.json and its signature.

A ``.pkpass`` is a zip. ``manifest.json`` maps every other file's name to the SHA-1 of its bytes
(hex); ``signature`` is a detached PKCS#7 (CMS) signature of ``manifest.json``, DER, made with
the merchant's pass type certificate and key, with Apple's WWDR intermediate certificate
included so Wallet can chain it to Apple's root (ADR 1330).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from PIL import Image, ImageDraw

from patron.core.errors import InvalidInput

MEDIA_TYPE = "application/vnd.apple.pkpass"


@dataclass(frozen=True)
class Signer:
    """The merchant's pass type certificate and key and Apple's WWDR intermediate (PEM)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    wwdr: x509.Certificate


def load_signer(certificate_pem: str, key_pem: str, wwdr_pem: str) -> Signer:
    """Read the three PEM texts; a text that is not what it should be is :class:`InvalidInput`
    (nothing is stored or signed)."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError as exc:
        raise InvalidInput(
            "the pass certificate is not a PEM certificate", code="wallet_cert"
        ) from exc
    try:
        wwdr = x509.load_pem_x509_certificate(wwdr_pem.encode())
    except ValueError as exc:
        raise InvalidInput(
            "the WWDR certificate is not a PEM certificate", code="wallet_wwdr"
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("the pass key is not an unencrypted PEM key", code="wallet_key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidInput("the pass key must be an RSA or EC key", code="wallet_key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise InvalidInput("the pass key does not belong to the certificate", code="wallet_key")
    return Signer(cert, key, wwdr)


def sign_manifest(manifest: bytes, signer: Signer) -> bytes:
    """A detached PKCS#7 signature of ``manifest`` (DER), the WWDR certificate included."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.certificate, signer.key, hashes.SHA256())
        .add_certificate(signer.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


@cache
def _image(size: int, initial: str, colour: tuple[int, int, int]) -> bytes:
    """A plain square mark: the shop's initial on its colour (Wallet needs icon.png; the logo
    is optional but shown on the card)."""
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    margin = size // 5
    draw.ellipse((margin, margin, size - margin, size - margin), outline=(255, 255, 255), width=2)
    if initial.isascii() and initial.isalnum():
        draw.text((size // 2, size // 2), initial, fill=(255, 255, 255), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def images(shop_name: str) -> dict[str, bytes]:
    initial = (shop_name.strip()[:1] or "P").upper()
    colour = (31, 58, 95)
    return {
        "icon.png": _image(29, initial, colour),
        "icon@2x.png": _image(58, initial, colour),
        "logo.png": _image(50, initial, colour),
        "logo@2x.png": _image(100, initial, colour),
    }


def manifest_of(files: dict[str, bytes]) -> bytes:
    """manifest.json: each file's SHA-1 (hex), as Apple's spec asks."""
    digests = {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())}
    return json.dumps(digests, indent=2).encode()


def build_pkpass(pass_json: dict[str, Any], shop_name: str, signer: Signer) -> bytes:
    """The signed ``.pkpass`` zip."""
    files = {"pass.json": json.dumps(pass_json, ensure_ascii=False, indent=2).encode()}
    files.update(images(shop_name))
    manifest = manifest_of(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", sign_manifest(manifest, signer))
    return buffer.getvalue()
