"""The providers' notification endpoints (unauthenticated, verified by each provider's
signature with the merchant's keys; docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from patron.core.http import PathId, SessionDep
from patron.payments import service
from patron.payments.providers import get_provider
from patron.payments.providers.base import NotifyRequest

router = APIRouter(tags=["payments"])


async def notify_request(request: Request) -> NotifyRequest:
    """The notification as received (read here, so the endpoint itself runs in a worker
    thread: it waits on the order's row lock without holding up the event loop)."""
    body = await request.body()
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: str(v) for k, v in (await request.form()).items()}
    return NotifyRequest(
        headers={k.lower(): v for k, v in request.headers.items()}, body=body, form=form
    )


@router.post("/api/v1/payments/notify/{provider}/{merchant_id}", operation_id="payment_notify")
def payment_notify(
    provider: str,
    merchant_id: PathId,
    call: Annotated[NotifyRequest, Depends(notify_request)],
    session: SessionDep,
) -> Response:
    """A provider says a payment was made. Verified with this merchant's keys for the
    provider; a paid order is credited once however often this arrives. Anything that does
    not verify (signature, age, account, order, amount) is refused (403) and changes nothing."""
    plugin = get_provider(provider)
    service.handle_notification(session, merchant_id, provider, call)
    answer = plugin.acknowledge(True)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
