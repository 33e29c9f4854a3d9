"""Random tokens and content fingerprints."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any


def token(nbytes: int = 24) -> str:
    """A URL-safe random token."""
    return secrets.token_urlsafe(nbytes)


def fingerprint(body: Any) -> str:
    """SHA-256 of a canonical JSON form: equal bodies give equal fingerprints (idempotency)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def token_hash(raw: str) -> str:
    """SHA-256 hex of a random token (sessions, reset links): only the hash is stored, so a copy
    of the database signs nobody in. The tokens carry 192 bits, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()
