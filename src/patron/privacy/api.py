"""/api/v1/members/{id}/export and /erase: a member's access and erasure requests (manager+)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from patron.core.http import OptionalIdempotencyKey, SessionDep
from patron.ledger.idempotency import idempotent
from patron.privacy.erase import erase_member
from patron.privacy.export import export_member
from patron.privacy.schemas import ErasureIn, ErasureOut, MemberExport
from patron.tenancy.auth import ManagerDep

router = APIRouter(prefix="/api/v1/members", tags=["members"])
REPLAY_HEADER = "Idempotent-Replayed"


@router.get("/{member_id}/export", response_model=MemberExport, operation_id="export_member")
def export(member_id: int, session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    """Everything Patron holds on the member, as one JSON document (an access request)."""
    return export_member(session, principal.merchant_id, member_id)


@router.post(
    "/{member_id}/erase",
    response_model=ErasureOut,
    operation_id="erase_member",
    responses={200: {"description": "the erasure; `Idempotent-Replayed: true` on a repeat"}},
)
def erase(
    member_id: int,
    body: ErasureIn,
    response: Response,
    session: SessionDep,
    principal: ManagerDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Erase the member's personal data; orders, balances and totals stay (docs/privacy.md).
    Repeating it (with or without ``Idempotency-Key``) answers the first erasure."""
    request = {"member_id": member_id, **body.model_dump()}
    with idempotent(session, principal.merchant_id, idempotency_key, request) as slot:
        if slot.replay is not None:
            response.headers[REPLAY_HEADER] = "true"
            return slot.replay
        erasure, erased = erase_member(
            session, principal.merchant_id, member_id, actor=principal.actor, reason=body.reason
        )
        result = ErasureOut.model_validate(erasure).model_dump(mode="json")
        slot.save(result)
    if not erased:
        response.headers[REPLAY_HEADER] = "true"
    return result
