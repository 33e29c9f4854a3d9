"""Merchants, stores, staff and API keys: creation, login and key checks."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from patron.core.merchant_setup import set_up_merchant
from patron.core.paging import newest_first
from patron.tenancy.models import ApiKey, Channel, Merchant, Role, StaffUser, Store

_hasher = PasswordHasher()
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Principal:
    """Who is acting: an API key or a staff user, always inside one merchant."""

    merchant_id: int
    role: Role
    api_key_id: int | None = None
    staff_user_id: int | None = None

    def can(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank

    @property
    def actor(self) -> str:
        return f"apikey:{self.api_key_id}" if self.api_key_id else f"staff:{self.staff_user_id}"


def _check_timezone(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {tz!r}", code="invalid_timezone") from exc


def _check_currency(currency: str) -> None:
    if not re.fullmatch(r"[A-Z]{3}", currency) or get_currency_name(currency) == currency:
        raise InvalidInput(f"unknown currency {currency!r}", code="invalid_currency")


def _check_locale(locale: str) -> None:
    try:
        Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise InvalidInput(f"unknown locale {locale!r}", code="invalid_locale") from exc


def create_merchant(
    session: Session, name: str, slug: str, currency: str, timezone: str, locale: str = "en"
) -> Merchant:
    """A new merchant (tenant)."""
    if not name.strip():
        raise InvalidInput("merchant name is required", code="invalid_name")
    if not _SLUG.match(slug):
        raise InvalidInput(
            "slug must be 3-80 lowercase letters, digits or dashes", code="invalid_slug"
        )
    _check_currency(currency)
    _check_timezone(timezone)
    _check_locale(locale)
    if session.scalar(select(Merchant.id).where(Merchant.slug == slug)) is not None:
        raise Conflict(f"a merchant with slug {slug!r} exists", code="merchant_exists")
    merchant = Merchant(
        name=name.strip(),
        slug=slug,
        currency=currency,
        timezone=timezone,
        locale=locale,
        created_at=utcnow(session),
    )
    session.add(merchant)
    session.flush()
    set_up_merchant(session, merchant.id)
    return merchant


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant not found", code="merchant_not_found")
    return merchant


def find_merchant(session: Session, slug: str) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        raise NotFound(f"no merchant {slug!r}", code="merchant_not_found")
    return merchant


def create_store(
    session: Session, merchant_id: int, code: str, name: str, channel: str, city: str | None = None
) -> Store:
    """A physical store or an online channel of the merchant."""
    if channel not in {c.value for c in Channel}:
        raise InvalidInput("channel must be 'store' or 'online'", code="invalid_channel")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code):
        raise InvalidInput("store code: 1-40 letters, digits, '_', '.', '-'", code="invalid_code")
    store = Store(
        merchant_id=merchant_id,
        code=code,
        name=name.strip() or code,
        channel=channel,
        city=city,
        created_at=utcnow(session),
    )
    session.add(store)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"store {code!r} exists", code="store_exists") from exc
    return store


def list_stores(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[Store]:
    """The merchant's stores, oldest first; with ``limit``, one page newest first."""
    query = select(Store).where(Store.merchant_id == merchant_id).order_by(Store.id)
    return list(session.scalars(newest_first(query, Store.id, limit, cursor)))


def get_store(session: Session, merchant_id: int, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None or store.merchant_id != merchant_id:
        raise NotFound("store not found", code="store_not_found")
    return store


def store_by_code(session: Session, merchant_id: int, code: str) -> Store | None:
    return session.scalar(select(Store).where(Store.merchant_id == merchant_id, Store.code == code))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_staff_user(
    session: Session, merchant_id: int, email: str, name: str, role: str, password: str
) -> StaffUser:
    """A dashboard login. Passwords are stored as argon2id hashes."""
    if role not in {r.value for r in Role}:
        raise InvalidInput("role must be owner, manager or clerk", code="invalid_role")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", code="weak_password")
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("a valid email is required", code="invalid_email")
    user = StaffUser(
        merchant_id=merchant_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        failed_logins=0,
        created_at=utcnow(session),
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("a staff user with this email exists", code="staff_exists") from exc
    return user


def login_delay_seconds(failures: int, free_failures: int) -> int:
    """After ``free_failures`` wrong passwords, wait 2, 4, 8 … seconds (at most 15 minutes)."""
    if failures < free_failures:
        return 0
    return int(min(2 ** (failures - free_failures + 1), 900))


def check_password(stored_hash: str | None, password: str) -> None:
    """Raise argon2's ``VerificationError`` unless ``password`` matches ``stored_hash``. A
    missing user (``None``) costs the same work as a real check, so timing does not reveal
    which emails exist."""
    if stored_hash is None:
        _hasher.hash(password)
        raise VerificationError("no such user")
    _hasher.verify(stored_hash, password)


def rehash_if_needed(user: StaffUser, password: str) -> None:
    """Store the password under the current argon2 parameters when they have changed."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)


def authenticate_staff(session: Session, email: str, password: str) -> StaffUser:
    """The staff user with this email and password, else :class:`Unauthorized`.

    For tools and tests only: it counts nothing. The dashboard signs in through
    :func:`patron.tenancy.login.sign_in`, which counts and locks."""
    users = list(session.scalars(select(StaffUser).where(StaffUser.email == email.strip().lower())))
    try:
        check_password(users[0].password_hash if len(users) == 1 else None, password)
    except (VerificationError, InvalidHashError) as exc:
        raise Unauthorized("wrong email or password", code="invalid_credentials") from exc
    return users[0]


def _hash_key(raw: str) -> str:
    # API keys carry 192 bits of randomness: a fast hash is enough and keeps each request cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(session: Session, merchant_id: int, name: str, role: str) -> tuple[ApiKey, str]:
    """A new API key. The raw key is returned once and never stored."""
    if role not in {r.value for r in Role}:
        raise InvalidInput("role must be owner, manager or clerk", code="invalid_role")
    prefix = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(
        merchant_id=merchant_id,
        name=name or "api key",
        role=role,
        prefix=prefix,
        key_hash=_hash_key(raw),
        created_at=utcnow(session),
    )
    session.add(key)
    session.flush()
    return key, raw


def principal_for_key(session: Session, raw: str) -> Principal:
    """The principal an ``Authorization: Bearer`` key stands for, or :class:`Unauthorized`."""
    parts = raw.split("_")
    if not raw.startswith(KEY_PREFIX) or len(parts) < 3:
        raise Unauthorized("malformed API key", code="invalid_api_key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if (
        key is None
        or key.revoked_at is not None
        or not hmac.compare_digest(key.key_hash, _hash_key(raw))
    ):
        raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
    return Principal(merchant_id=key.merchant_id, role=Role(key.role), api_key_id=key.id)


def list_api_keys(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[ApiKey]:
    """The merchant's API keys, oldest first; with ``limit``, one page newest first."""
    query = select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.id)
    return list(session.scalars(newest_first(query, ApiKey.id, limit, cursor)))


def revoke_api_key(session: Session, merchant_id: int, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.merchant_id != merchant_id:
        raise NotFound("API key not found", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow(session)
    return key
