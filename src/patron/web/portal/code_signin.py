"""The merchant's portal entrance and sign-in by one-time code (ADR 1300).

``/portal/<merchant>`` is the link every message carries: a signed-in member of that merchant
goes to the portal (or the page the link names), anyone else to the merchant's sign-in page.
There the member types a phone or an email and gets a 6-digit code by SMS or email through the
merchant's own channel settings; the answer is the same whether the address is a member's or
not. The code signs them in with the same server-side portal session a staff-issued link
starts. What the code is for waits in the portal cookie (the address; never the code).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.config import Settings
from patron.core.errors import NotFound, PatronError, TooManyAttempts
from patron.core.http import SessionDep, SettingsDep
from patron.engagement.direct import DirectMessage, channel_ready, prepare_direct, send_direct
from patron.i18n import N_
from patron.portal import codes, join
from patron.portal import service as portal
from patron.portal.codes import Contact, IssuedCode
from patron.portal.products import is_product_path
from patron.tenancy.models import Merchant
from patron.web.auth import MerchantView, PortalSignInRequired, client_address, current_member
from patron.web.nav import NavItem
from patron.web.rendering import render, session_data, translate
from patron.web.security import PORTAL_SESSION_SECONDS, ensure_csrf_token

log = logging.getLogger("patron.web.portal.code")
router = APIRouter(prefix="/portal")
NAV: list[NavItem] = []
# Where a message's link may ask to land after sign-in (``?to=``): portal pages only.
LANDINGS = {
    "home": "/portal",
    "coupons": "/portal/coupons",
    "card": "/portal/card",
    "points": "/portal/points",
    "orders": "/portal/orders",
    "inbox": "/portal/inbox",
    "profile": "/portal/profile",
    "mall": "/portal/mall",
    "stored-value": "/portal/stored-value",
    "reviews": "/portal/reviews",
    "cases": "/portal/cases",
}
REFUSALS = {
    "code_wrong": N_("That code is not right. Check the digits and try again."),
    "code_expired": N_("That code has expired. Ask for a new one."),
    "code_used": N_("That code was already used. Ask for a new one."),
}


def code_policy(settings: Settings) -> codes.CodePolicy:
    return codes.CodePolicy(
        max_age_seconds=settings.portal_code_max_age_seconds,
        resend_seconds=settings.portal_code_resend_seconds,
        free_failures=settings.portal_code_max_failures_before_delay,
        client_free_failures=settings.portal_code_address_max_failures_before_delay,
        client_free_sends=settings.portal_code_address_max_sends_before_delay,
        forget_after_seconds=settings.login_failures_forget_seconds,
    )


def shop_of(request: Request, session: Session, slug: str) -> Merchant:
    """The merchant of ``/portal/<slug>/…`` (404 otherwise), shown in the page's header."""
    request.state.area = "portal"
    merchant = session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        raise NotFound("shop not found", code="merchant_not_found")
    request.state.merchant = MerchantView.of(merchant)
    return merchant


def _signed_in_here(request: Request, session: Session, merchant: Merchant) -> bool:
    data = session_data(request)
    if data.get("merchant_id") != merchant.id:
        return False
    try:
        current_member(request, session)
    except PortalSignInRequired:
        return False
    return True


@router.get("/{slug}")
def entrance(
    request: Request,
    slug: str,
    session: SessionDep,
    to: Annotated[str, Query(max_length=20)] = "home",
) -> Response:
    """The link in every message: the portal when signed in to this shop, else its sign-in."""
    merchant = shop_of(request, session, slug)
    landing = LANDINGS.get(to, "/portal")
    if _signed_in_here(request, session, merchant):
        return RedirectResponse(landing, status_code=303)
    session_data(request)["after"] = landing
    return RedirectResponse(f"/portal/{merchant.slug}/signin", status_code=303)


@router.get("/{slug}/signin")
def signin_page(request: Request, slug: str, session: SessionDep) -> Response:
    merchant = shop_of(request, session, slug)
    return render(request, "portal/code_signin.html", _channels(session, merchant))


def _channels(session: Session, merchant: Merchant) -> dict[str, Any]:
    return {
        "shop": merchant,
        "by_sms": channel_ready(session, merchant.id, "sms"),
        "by_email": channel_ready(session, merchant.id, "email"),
    }


def code_message(
    request: Request, merchant: Merchant, issued: IssuedCode, minutes: int
) -> dict[str, Any]:
    """The code's words in the reader's language, for the channel it goes by."""
    text = translate(
        request,
        "%(code)s is your %(shop)s sign-in code. It works once, for %(minutes)s minutes. "
        "If you did not ask for it, ignore this message.",
        code=issued.code,
        shop=merchant.name,
        minutes=minutes,
    )
    if issued.contact.channel == "sms":
        return {"body": text}
    subject = translate(request, "Your %(shop)s sign-in code", shop=merchant.name)
    html = f'<p style="font-size:20px"><strong>{issued.code}</strong></p><p>{_escape(text)}</p>'
    return {"subject": subject, "text": text, "html": html}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_code(
    request: Request,
    session: Session,
    settings: Settings,
    tasks: BackgroundTasks,
    merchant: Merchant,
    contact: Contact,
    join_form: dict[str, Any] | None = None,
) -> None:
    """Issue a code for ``contact`` and send it after the commit (when there is someone to
    send it to); remember the address in the portal cookie for the code page."""
    issued = codes.issue_code(
        session,
        merchant.id,
        contact,
        secret_key=settings.secret_key,
        policy=code_policy(settings),
        client=client_address(request),
        join_form=join_form,
    )
    data = session_data(request)
    data["code_to"], data["code_channel"] = contact.address, contact.channel
    data["code_merchant"] = merchant.id
    if not issued.deliver:
        return
    minutes = settings.portal_code_max_age_seconds // 60
    reference = codes.code_hash(settings.secret_key, merchant.id, contact.address, issued.code)
    message = prepare_direct(
        session,
        merchant.id,
        contact.channel,
        contact.address,
        code_message(request, merchant, issued, minutes),
        reference[:24],
    )
    if message is not None:
        tasks.add_task(_deliver, message)


def _deliver(message: DirectMessage) -> None:
    send_direct(message)


def contact_refusal(request: Request, exc: PatronError) -> str:
    """The words for a refused request for a code."""
    if isinstance(exc, codes.ResendTooSoon):
        wait = int((exc.details or {}).get("retry_after", 60))
        return translate(
            request, "A code was sent moments ago. Ask again in %(n)s seconds.", n=wait
        )
    if isinstance(exc, TooManyAttempts):
        return translate(request, "Too many attempts. Wait a while and try again.")
    if exc.code in ("invalid_phone", "invalid_email", "contact_missing"):
        return translate(request, "Type a mobile number or an email address we can send a code to.")
    return translate(request, "That did not work. Please try again.")


@router.post("/{slug}/signin")
def ask_for_code(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    contact: Annotated[str, Form(max_length=254)],
) -> Response:
    """Send a code (to a member's phone or email; to nobody otherwise: the answer is alike)."""
    merchant = shop_of(request, session, slug)
    try:
        found = codes.contact_of(session, merchant.id, contact)
        if not channel_ready(session, merchant.id, found.channel):
            raise PatronError("channel not set up", code="channel_not_configured")
        send_code(request, session, settings, tasks, merchant, found)
    except PatronError as exc:
        session.rollback()
        context = {**_channels(session, merchant), "error": _channel_refusal(request, exc)}
        context["typed"] = contact
        return render(request, "portal/code_signin.html", context, status=_status(exc))
    return RedirectResponse(f"/portal/{merchant.slug}/code", status_code=303)


def _channel_refusal(request: Request, exc: PatronError) -> str:
    if exc.code == "channel_not_configured":
        return translate(request, "This shop cannot send codes that way yet. Try the other one.")
    return contact_refusal(request, exc)


def _status(exc: PatronError) -> int:
    return exc.status_code if exc.status_code in (409, 410, 422, 429) else 422


def _pending(request: Request, merchant: Merchant) -> Contact | None:
    return _pending_for(request, merchant.id)


def _pending_for(request: Request, merchant_id: int | None) -> Contact | None:
    """The phone or email a code was asked for in this browser, at this merchant."""
    data = session_data(request)
    if merchant_id is None or data.get("code_merchant") != merchant_id:
        return None
    address, channel = data.get("code_to"), data.get("code_channel")
    if not isinstance(address, str) or channel not in ("sms", "email"):
        return None
    return Contact(str(channel), address)


@router.get("/{slug}/code")
def code_page(request: Request, slug: str, session: SessionDep) -> Response:
    merchant = shop_of(request, session, slug)
    pending = _pending(request, merchant)
    if pending is None:
        return RedirectResponse(f"/portal/{merchant.slug}/signin", status_code=303)
    return render(request, "portal/code_enter.html", {"shop": merchant, "pending": pending})


@router.post("/{slug}/code")
def check_code(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    """Count the try, then compare; a right code starts the portal session (and, for a join,
    creates the member); a wrong, expired or used one says so and changes nothing."""
    # The try is counted and committed before this request's own transaction begins (on
    # SQLite that transaction holds the write lock from its first statement).
    with request.app.state.read_sessions() as reader:
        merchant_id = reader.scalar(select(Merchant.id).where(Merchant.slug == slug))
    pending = _pending_for(request, merchant_id)
    counted: PatronError | None = None
    if pending is not None and merchant_id is not None:
        try:
            codes.count_code_attempt(
                request.app.state.sessions,
                merchant_id,
                pending,
                client_address(request),
                code_policy(settings),
            )
        except TooManyAttempts as exc:
            counted = exc
    merchant = shop_of(request, session, slug)
    if pending is None:
        return RedirectResponse(f"/portal/{merchant.slug}/signin", status_code=303)
    try:
        if counted is not None:
            raise counted
        claimed = codes.redeem_code(
            session, merchant.id, pending, code, secret_key=settings.secret_key
        )
        joined = join.complete(session, claimed)
    except PatronError as exc:
        session.rollback()
        if isinstance(exc, TooManyAttempts):
            wait = int((exc.details or {}).get("retry_after", 1))
            words = translate(request, "Too many wrong codes. Try again in %(n)s seconds.", n=wait)
        else:
            words = translate(request, REFUSALS.get(exc.code, REFUSALS["code_wrong"]))
        context = {"shop": merchant, "pending": pending, "error": words}
        response = render(request, "portal/code_enter.html", context, status=_status(exc))
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str((exc.details or {}).get("retry_after", 1))
        return response
    sid = portal.start_member_session(
        session, merchant.id, joined.member_id, PORTAL_SESSION_SECONDS
    )
    data = session_data(request)
    after = str(data.get("after") or "/portal")
    locale = data.get("locale")
    data.clear()
    data.update({"member_id": joined.member_id, "merchant_id": merchant.id, "sid": sid})
    if locale:
        data["locale"] = locale
    ensure_csrf_token(data)
    allowed = after in LANDINGS.values() or is_product_path(after, merchant)
    return RedirectResponse(after if allowed else "/portal", status_code=303)


@router.post("/{slug}/code/resend")
def resend(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> Response:
    """Another code to the same address (at most one a minute); the join form goes along."""
    merchant = shop_of(request, session, slug)
    pending = _pending(request, merchant)
    if pending is None:
        return RedirectResponse(f"/portal/{merchant.slug}/signin", status_code=303)
    form = codes.open_join_form(session, merchant.id, pending)
    try:
        send_code(request, session, settings, tasks, merchant, pending, form)
    except PatronError as exc:
        session.rollback()
        context = {"shop": merchant, "pending": pending, "error": contact_refusal(request, exc)}
        return render(request, "portal/code_enter.html", context, status=_status(exc))
    context = {"shop": merchant, "pending": pending, "resent": True}
    return render(request, "portal/code_enter.html", context)
