"""Everything Patron holds on one member, as one JSON document (an access request under PIPL
art. 45 / GDPR art. 15): the profile, then every row of every table that names the member and
of the tables below those (order lines, ledger postings, message events), column by column."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.ledger import queries
from patron.members.service import get_member
from patron.privacy.tables import collect, plain
from patron.tenancy.models import Merchant

FORMAT = "patron.member-export/1"
# Secrets that are the shop's, not the member's data: a sign-in link's nonce is left out.
WITHHELD = frozenset({"nonce"})


def _row(row: Any) -> dict[str, Any]:
    return {key: plain(value) for key, value in row._mapping.items() if key not in WITHHELD}


def export_member(session: Session, merchant_id: int, member_id: int) -> dict[str, Any]:
    """The member's data as a JSON-ready dict: ``member`` (the profile row), ``balances`` (by
    asset, minor units or points) and ``tables`` (table name → rows, each row every column).
    Every table with a foreign key to members is a key of ``tables``, even when empty.
    Another merchant's member is :class:`NotFound`."""
    get_member(session, merchant_id, member_id)
    merchant = session.get(Merchant, merchant_id)
    found = collect(session, merchant_id, member_id)
    tables = {
        name: [_row(r) for r in rows]
        for name, rows in sorted(found.rows.items())
        if name != "members"
    }
    return {
        "format": FORMAT,
        "exported_at": utcnow(session).isoformat(),
        "merchant": {
            "id": merchant_id,
            "name": merchant.name if merchant else None,
            "currency": merchant.currency if merchant else None,
        },
        "member": _row(found.rows["members"][0]),
        "balances": queries.member_balances(session, merchant_id, member_id).balances,
        "tables": tables,
    }
