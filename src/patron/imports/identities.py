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
from patron.imports.rows import Reason
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


def describe(key: Key) -> Reason:
    """An identity in the merchant's words: "email mei@example.com", "shopify id 7001"."""
    kind, namespace, value = key
    if kind == IdentityKind.EXTERNAL.value:
        return Reason("%(system)s id %(value)s", system=namespace, value=value)
    if kind == IdentityKind.EMAIL.value:
        return Reason("email %(value)s", value=value)
    return Reason("phone %(value)s", value=value)


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


def resolve(keys: list[Key], known: dict[Key, MemberRef]) -> tuple[MemberRef | None, Reason | None]:
    """The member these identities point at (or None), or why the row cannot be theirs.

    ``keys`` come strongest first (:func:`identity_keys`): the row is whoever owns its
    strongest known identity, and any other identity owned by somebody else refuses the row
    (never a silent merge: docs/decisions/0663-import-never-rewrites-another-member.md).
    """
    owner: MemberRef | None = None
    for key in keys:
        ref = known.get(key)
        if ref is None:
            continue
        if owner is None:
            owner = ref
        elif ref is not owner and ref != owner:
            return None, belongs_to_another(key, ref)
    return owner, None


def belongs_to_another(key: Key, ref: MemberRef) -> Reason:
    """ "email x belongs to another member (#12)" (or to a customer earlier in the file)."""
    if isinstance(ref, NewMember):
        return Reason(
            "%(identity)s belongs to the customer on line %(line)s",
            identity=describe(key),
            line=ref.line,
        )
    return Reason(
        "%(identity)s belongs to another member (#%(member)s)", identity=describe(key), member=ref
    )


def systems_of(
    session: Session, merchant_id: int, ids: list[int]
) -> dict[int, set[tuple[str, str]]]:
    """The (kind, namespace) of every identity each member has: which systems know them."""
    found: dict[int, set[tuple[str, str]]] = {}
    postgres = is_postgres(session)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        for member_id, kind, namespace in session.connection().execute(
            select(MemberIdentity.member_id, MemberIdentity.kind, MemberIdentity.namespace)
            .where(
                MemberIdentity.merchant_id == merchant_id,
                listed(MemberIdentity.member_id, ids[start : start + _LOOKUP_CHUNK], postgres),
            )
            .distinct()
        ):
            found.setdefault(member_id, set()).add((kind, namespace))
    return found


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
