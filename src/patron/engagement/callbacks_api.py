"""Unauthenticated endpoints, each verified another way: provider callbacks (signatures,
shared secrets) and member links (itsdangerous tokens): open pixel, click redirect,
unsubscribe landing page and RFC 8058 one-click POST."""

from __future__ import annotations

import base64
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select

from patron.core.errors import Forbidden, NotFound
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.engagement import tracking
from patron.engagement.channels import get_channel
from patron.engagement.channels.base import CallbackRejected, CallbackRequest, Credentials
from patron.engagement.models import ChannelSetting
from patron.engagement.outcomes import apply_updates
from patron.members.language import member_language
from patron.members.models import Member
from patron.members.topics import labels_by_code
from patron.tenancy.models import Merchant
from patron.web.auth import MerchantView
from patron.web.rendering import render

router = APIRouter(tags=["engagement callbacks"])

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


def _credentials(session: SessionDep, merchant_id: int, channel: str) -> Credentials:
    row = session.scalar(
        select(ChannelSetting).where(
            ChannelSetting.merchant_id == merchant_id, ChannelSetting.channel == channel
        )
    )
    if row is None:
        raise NotFound("no such callback", code="not_found")
    return Credentials(row.base_url, dict(row.credentials))


async def _callback_request(request: Request, public_url: str) -> CallbackRequest:
    body = await request.body()
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: str(v) for k, v in (await request.form()).items()}
    return CallbackRequest(
        url=public_url,
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
        form=form,
    )


def _public_url(request: Request, base_url: str) -> str:
    # Providers sign the URL we gave them (built from base_url), not the one a proxy forwards.
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base_url.rstrip('/')}{request.url.path}{query}"


@router.get("/api/v1/callbacks/whatsapp/{merchant_id}", operation_id="whatsapp_verify")
def whatsapp_verify(
    merchant_id: PathId,
    session: SessionDep,
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    verify_token: Annotated[str, Query(alias="hub.verify_token")] = "",
    challenge: Annotated[str, Query(alias="hub.challenge")] = "",
) -> PlainTextResponse:
    """Meta's webhook subscription handshake."""
    creds = _credentials(session, merchant_id, "whatsapp")
    if mode != "subscribe" or not verify_token or verify_token != creds.get("verify_token"):
        raise Forbidden("verify token mismatch", code="bad_signature")
    return PlainTextResponse(challenge)


@router.get("/api/v1/callbacks/{channel}/{merchant_id}", operation_id="provider_callback_check")
@router.post("/api/v1/callbacks/{channel}/{merchant_id}", operation_id="provider_callback")
async def provider_callback(
    channel: str, merchant_id: PathId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Status callbacks and opt-outs from a provider, verified by its signature scheme."""
    creds = _credentials(session, merchant_id, channel)
    call = await _callback_request(request, _public_url(request, settings.base_url))
    try:
        updates = get_channel(channel).parse_callback(call, creds)
    except CallbackRejected as exc:
        raise Forbidden(str(exc), code="bad_signature") from exc
    apply_updates(session, merchant_id, channel, updates)
    if channel == "wechat":
        # WeChat expects "success" (or the echostr during URL verification).
        return PlainTextResponse(call.query.get("echostr", "success"))
    if channel == "sms":
        return Response("<Response/>", media_type="application/xml")
    return Response(status_code=200)


@router.get("/t/o/{token}", operation_id="track_open", include_in_schema=False)
def track_open(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    # A broken pixel still answers with a pixel: mail clients show nothing amiss.
    with contextlib.suppress(NotFound):
        tracking.record_open(session, settings.secret_key, token)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}", operation_id="track_click", include_in_schema=False)
def track_click(token: str, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    target = tracking.record_click(session, settings.secret_key, token)
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


def _landing(request: Request, session: SessionDep, target: dict[str, Any], done: bool) -> Response:
    """The unsubscribe page in the portal's look, in the member's language (no cookie needed)."""
    request.state.area = "portal"
    merchant = session.get(Merchant, target["merchant_id"])
    member = session.get(Member, target["member_id"])
    topic_label = None
    if merchant is not None:
        request.state.merchant = MerchantView.of(merchant)
        locale = member_language(member, merchant.locale).code if member else merchant.locale
        request.state.preferred_locale = locale
        # The merchant's own words for the topic; every topic ("*") reads as "Messages".
        topic_label = labels_by_code(session, merchant.id, locale).get(target["topic"])
    context = {"target": target, "done": done, "topic_label": topic_label}
    response = render(request, "portal/unsubscribe.html", context)
    response.headers.update(NO_STORE)
    return response


@router.get("/u/{token}", operation_id="unsubscribe_page", include_in_schema=False)
def unsubscribe_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """The landing page: a GET never unsubscribes (link scanners follow GETs; RFC 8058)."""
    target = tracking.read_unsubscribe(settings.secret_key, token)
    return _landing(request, session, target, done=False)


@router.post("/u/{token}", operation_id="unsubscribe", include_in_schema=False)
def unsubscribe(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """RFC 8058 one-click (and the landing page's button): consent is revoked at once."""
    target = tracking.unsubscribe(session, settings.secret_key, token)
    return _landing(request, session, target, done=True)
