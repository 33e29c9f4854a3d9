"""A member's own requests from the portal (ADR 1331): download my data, close my account.

- **Download**: the member's export (:func:`patron.privacy.export.export_member`, theirs only),
  as JSON or as a zip of that JSON and one CSV per table (cells that a spreadsheet would run as
  a formula are neutralised). At most :data:`EXPORTS_PER_DAY` a day: each download is recorded,
  counted under a lock on the member's row (so two at once on PostgreSQL cannot both pass).
- **Close my account**: once confirmed, the member is erased at once by the existing erasure
  (:func:`patron.privacy.erase.erase_member`) — unless the shop still holds stored value the
  member paid in: docs/privacy.md says to settle that first, so the request then waits for
  staff (``pending``), who settle and erase from the member page.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.csv_safe import csv_writer
from patron.core.errors import PatronError
from patron.ledger import queries
from patron.ledger.models import Asset
from patron.members.models import Member
from patron.members.service import get_member
from patron.privacy.erase import erase_member
from patron.privacy.export import export_member
from patron.privacy.models import MemberDataRequest

EXPORTS_PER_DAY = 3
CLOSE_REASON = "closed by the member in the portal"


class TooManyExports(PatronError):
    status_code = 429
    code = "too_many_exports"


def _lock(session: Session, merchant_id: int, member_id: int) -> Member:
    member = get_member(session, merchant_id, member_id)
    session.execute(
        select(Member.id)
        .where(Member.merchant_id == merchant_id, Member.id == member_id)
        .with_for_update()
    )
    return member


def download(session: Session, merchant_id: int, member_id: int) -> dict[str, Any]:
    """The member's export, recorded; :class:`TooManyExports` past the day's limit."""
    _lock(session, merchant_id, member_id)
    now = utcnow(session)
    recent = session.scalar(
        select(func.count())
        .select_from(MemberDataRequest)
        .where(
            MemberDataRequest.merchant_id == merchant_id,
            MemberDataRequest.member_id == member_id,
            MemberDataRequest.kind == "export",
            MemberDataRequest.requested_at > now - timedelta(days=1),
        )
    )
    if (recent or 0) >= EXPORTS_PER_DAY:
        raise TooManyExports(f"at most {EXPORTS_PER_DAY} downloads a day")
    session.add(
        MemberDataRequest(
            merchant_id=merchant_id,
            member_id=member_id,
            kind="export",
            status="done",
            requested_at=now,
            handled_at=now,
        )
    )
    session.flush()
    return export_member(session, merchant_id, member_id)


def as_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def as_zip(document: dict[str, Any]) -> bytes:
    """``data.json`` and one CSV per table with rows (``member.csv`` for the profile)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", as_json(document))
        tables = {"member": [document["member"]], **document["tables"]}
        for name, rows in tables.items():
            if not rows:
                continue
            out = io.StringIO()
            writer = csv_writer(out, quoting=csv.QUOTE_MINIMAL)
            columns = list(rows[0])
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
            # A BOM, so a spreadsheet reads the file as UTF-8 (Chinese names).
            archive.writestr(f"{name}.csv", "\ufeff" + out.getvalue())
    return buffer.getvalue()


def owes_stored_value(session: Session, merchant_id: int, member_id: int) -> int:
    """Stored value the member still holds (minor units): paid-in money and its bonus."""
    b = queries.member_balances(session, merchant_id, member_id).balances
    return b[Asset.STORED_PRINCIPAL.value] + b[Asset.STORED_BONUS.value]


def close_account(session: Session, merchant_id: int, member_id: int) -> MemberDataRequest:
    """Record the member's request to close their account and erase now when nothing is owed
    (status ``erased``), else leave it ``pending`` for staff. A second request while one is
    pending answers that one."""
    _lock(session, merchant_id, member_id)
    now = utcnow(session)
    pending = session.scalar(
        select(MemberDataRequest).where(
            MemberDataRequest.merchant_id == merchant_id,
            MemberDataRequest.member_id == member_id,
            MemberDataRequest.kind == "close",
            MemberDataRequest.status == "pending",
        )
    )
    row = pending or MemberDataRequest(
        merchant_id=merchant_id,
        member_id=member_id,
        kind="close",
        status="pending",
        requested_at=now,
    )
    if pending is None:
        session.add(row)
        session.flush()
    if owes_stored_value(session, merchant_id, member_id) == 0:
        erase_member(
            session, merchant_id, member_id, actor=f"member:{member_id}", reason=CLOSE_REASON
        )
        row.status = "erased"
        row.handled_at = now
    session.flush()
    return row


def close_requests(session: Session, merchant_id: int, limit: int = 100) -> list[Any]:
    """Members' requests to close their account, newest first, with whether the member is
    erased by now (the dashboard's list)."""
    return list(
        session.execute(
            select(
                MemberDataRequest.id,
                MemberDataRequest.member_id,
                MemberDataRequest.status,
                MemberDataRequest.requested_at,
                MemberDataRequest.handled_at,
                Member.erased_at,
            )
            .join(
                Member,
                (Member.id == MemberDataRequest.member_id)
                & (Member.merchant_id == MemberDataRequest.merchant_id),
            )
            .where(MemberDataRequest.merchant_id == merchant_id, MemberDataRequest.kind == "close")
            .order_by(MemberDataRequest.id.desc())
            .limit(limit)
        ).all()
    )
