"""The providers' notification endpoints (unauthenticated, verified by each provider's
signature with the merchant's keys; docs/api.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from patron.core.http import PathId, SessionDep
from patron.payments import service
from patron.payments.providers import get_provider
from patron.payments.providers.base import NotifyRequest

router = APIRouter(tags=["payments"])


@router.post("/api/v1/payments/notify/{provider}/{merchant_id}", operation_id="payment_notify")
async def payment_notify(
    provider: str, merchant_id: PathId, request: Request, session: SessionDep
) -> Response:
    """A provider says a payment was made. Verified with this merchant's keys for the
    provider; a paid order is credited once however often this arrives. Anything that does
    not verify (signature, age, account, order, amount) is refused (403) and changes nothing."""
    plugin = get_provider(provider)
    body = await request.body()
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: str(v) for k, v in (await request.form()).items()}
    call = NotifyRequest(
        headers={k.lower(): v for k, v in request.headers.items()}, body=body, form=form
    )
    service.handle_notification(session, merchant_id, provider, call)
    answer = plugin.acknowledge(True)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
