"""/api/v1: checkout quote and commit (clerk), membership QR code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from patron.checkout import service
from patron.checkout.members import membership_qr_svg
from patron.checkout.schemas import CommitOut, CommitRequest, QuoteOut, QuoteRequest
from patron.core.config import Settings
from patron.core.http import (
    IdempotencyKey,
    PathId,
    SessionDep,
    answer_replay,
    get_settings_dep,
    replay_responses,
)
from patron.members.service import get_member
from patron.tenancy.auth import ClerkDep

router = APIRouter(prefix="/api/v1", tags=["checkout"])
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


@router.post("/checkout/quote", response_model=QuoteOut, operation_id="checkout_quote")
def quote(
    body: QuoteRequest, session: SessionDep, principal: ClerkDep, settings: SettingsDep
) -> QuoteOut:
    """Every benefit that applies to the cart, line by line, and what is due. Writes nothing."""
    return service.quote(session, principal.merchant_id, body, settings.secret_key)


@router.post(
    "/checkout/commit",
    response_model=CommitOut,
    status_code=201,
    operation_id="checkout_commit",
    responses=replay_responses(CommitOut),
)
def commit(
    body: CommitRequest,
    response: Response,
    session: SessionDep,
    principal: ClerkDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> CommitOut:
    """Record the purchase with every benefit, payment and earning in one transaction.
    ``Idempotency-Key`` is required: a retry returns the first result."""
    out = service.commit(
        session, principal.merchant_id, body, idempotency_key, principal.actor, settings.secret_key
    )
    answer_replay(response, out.replayed)
    return out


@router.get(
    "/members/{member_id}/membership-qr.svg",
    operation_id="membership_qr",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def membership_qr(
    member_id: PathId, session: SessionDep, principal: ClerkDep, settings: SettingsDep
) -> Response:
    """The member's membership card QR code (scan it at the till: ``qr_token`` in a quote)."""
    member = get_member(session, principal.merchant_id, member_id)
    return Response(membership_qr_svg(member, settings.secret_key), media_type="image/svg+xml")
