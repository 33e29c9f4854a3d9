"""Finding members by identity for a whole batch at once, and creating the missing ones.

A member is recognised by any of its identities (external id in a namespace, email, phone), all
unique per merchant in ``member_identities``. A batch looks all of its identities up in one
query; rows found through identities of two different members are refused, never merged
silently (merging is a deliberate act, see the members service).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.db import is_postgres
from patron.imports.sql import listed
from patron.members.models import FunnelStage, IdentityKind, MemberIdentity

Key = tuple[str, str, str]  # (kind, namespace, value)
_LOOKUP_CHUNK = 5000


def identity_keys(
    external_id: str | None, namespace: str, email: str | None, phone: str | None
) -> list[Key]:
    """The identities a row names, strongest first (external id, email, phone)."""
    keys: list[Key] = []
    if external_id:
        keys.append((IdentityKind.EXTERNAL.value, namespace, external_id))
    if email:
        keys.append((IdentityKind.EMAIL.value, "", email))
    if phone:
        keys.append((IdentityKind.PHONE.value, "", phone))
    return keys


def describe(key: Key) -> str:
    kind, namespace, value = key
    return f"{namespace} id {value}" if kind == IdentityKind.EXTERNAL.value else f"{kind} {value}"


@dataclass(slots=True, eq=False)
class NewMember:
    """A member this batch creates; ``id`` is allocated just before the insert."""

    line: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    gender: str | None = None
    birthday: date | None = None
    address: dict[str, str] | None = None
    locale: str | None = None
    source: str = "import"
    registered_at: datetime | None = None
    created_at: datetime | None = None
    id: int = 0
    keys: list[Key] = field(default_factory=list)


MemberRef = int | NewMember


def lookup(session: Session, merchant_id: int, keys: Iterable[Key]) -> dict[Key, MemberRef]:
    """Which member owns each of ``keys`` (absent keys are not in the result).

    One query per (kind, namespace) and 5,000 values, each constrained on the whole unique
    index (merchant_id, kind, namespace, value): a query on ``value`` alone would scan all the
    merchant's identities for every batch.
    """
    groups: dict[tuple[str, str], set[str]] = {}
    for kind, namespace, value in keys:
        groups.setdefault((kind, namespace), set()).add(value)
    found: dict[Key, MemberRef] = {}
    postgres = is_postgres(session)
    connection = session.connection()
    for (kind, namespace), value_set in groups.items():
        values = sorted(value_set)
        for start in range(0, len(values), _LOOKUP_CHUNK):
            rows = connection.execute(
                select(MemberIdentity.value, MemberIdentity.member_id).where(
                    MemberIdentity.merchant_id == merchant_id,
                    MemberIdentity.kind == kind,
                    MemberIdentity.namespace == namespace,
                    listed(MemberIdentity.value, values[start : start + _LOOKUP_CHUNK], postgres),
                )
            )
            for value, member_id in rows:
                found[(kind, namespace, value)] = member_id
    return found


def resolve(keys: list[Key], known: dict[Key, MemberRef]) -> tuple[MemberRef | None, str | None]:
    """The one member these identities point at (or None), or a reason they disagree."""
    owner: MemberRef | None = None
    owner_key: Key | None = None
    for key in keys:
        ref = known.get(key)
        if ref is None:
            continue
        if owner is None:
            owner, owner_key = ref, key
        elif ref is not owner and ref != owner:
            assert owner_key is not None
            return None, (
                f"conflicting identities: {describe(owner_key)} is {_who(owner)}"
                f" but {describe(key)} is {_who(ref)}"
            )
    return owner, None


def _who(ref: MemberRef) -> str:
    return f"the member of line {ref.line}" if isinstance(ref, NewMember) else f"member {ref}"


MEMBER_COLUMNS = (
    "id",
    "merchant_id",
    "first_name",
    "last_name",
    "gender",
    "birthday",
    "phone",
    "email",
    "address",
    "locale",
    "preferences",
    "source",
    "registered_at",
    "funnel_stage",
    "orders_count",
    "total_spent_minor",
    "engagement_score",
    "created_at",
    "updated_at",
)
IDENTITY_COLUMNS = ("merchant_id", "member_id", "kind", "namespace", "value", "created_at")
TRANSITION_COLUMNS = (
    "merchant_id",
    "member_id",
    "from_stage",
    "to_stage",
    "moved_at",
    "reason",
)


def member_tuple(m: NewMember, merchant_id: int, now: datetime, enc: Any) -> tuple[Any, ...]:
    """A new member's row: stage ``user`` until :func:`recompute_funnel` derives the real one."""
    return (
        m.id,
        merchant_id,
        m.first_name,
        m.last_name,
        m.gender,
        enc.day(m.birthday),
        m.phone,
        m.email,
        enc.doc(m.address),
        m.locale,
        "{}",
        m.source,
        enc.ts(m.registered_at),
        FunnelStage.USER.value,
        0,
        0,
        0,
        enc.ts(m.created_at or now),
        enc.ts(now),
    )
