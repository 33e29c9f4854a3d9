"""Forgotten password: a link by email, then a new password (ADR 0019).

The answer to a request is the same whether or not the address has an account, so the form
reveals no emails; the address is rate limited (patron.core.ratelimit) and each account gets at
most one email a minute. The mail leaves after the commit, as a background task of the answer.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask

from patron.core.config import Settings
from patron.core.errors import NotFound
from patron.core.http import SessionDep, SettingsDep
from patron.core.mail import mail_configured, send_mail
from patron.tenancy import password_reset as resets
from patron.web.auth import sign_in_staff
from patron.web.nav import NavItem
from patron.web.rendering import render, translate

log = logging.getLogger("patron.web.password_reset")
router = APIRouter()
NAV: list[NavItem] = []
MIN_PASSWORD = 8


def _mail_reset(settings: Settings, to: str, subject: str, text: str) -> None:
    try:
        send_mail(settings, to, subject, text)
    except Exception:  # the page has answered already; the operator sees why in the log
        log.warning("password reset email not sent", exc_info=True)


@router.get("/password-reset")
def reset_request_page(request: Request, settings: SettingsDep) -> Response:
    request.state.area = "login"
    context = {"sent": False, "available": mail_configured(settings)}
    return render(request, "dashboard/password_reset_request.html", context)


@router.post("/password-reset")
def reset_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """Mail a reset link if the email has an account (the page says the same either way)."""
    request.state.area = "login"
    context = {"sent": True, "available": mail_configured(settings)}
    response = render(request, "dashboard/password_reset_request.html", context)
    if not mail_configured(settings):
        return response
    issued = resets.request_reset(session, email, settings.password_reset_max_age_seconds)
    if issued is not None:
        url = f"{settings.base_url}/password-reset/{issued.raw_token}"
        minutes = settings.password_reset_max_age_seconds // 60
        text = translate(
            request,
            "Hello %(name)s,\n\nOpen this link to choose a new password for your Patron "
            "dashboard (it works once, for %(minutes)s minutes):\n\n%(url)s\n\n"
            "Choosing a new password signs out every device signed in with the old one. "
            "If you did not ask for this, ignore this email: your password stays as it is.",
            name=issued.name,
            minutes=minutes,
            url=url,
        )
        subject = translate(request, "Choose a new Patron password")
        response.background = BackgroundTask(_mail_reset, settings, issued.email, subject, text)
    return response


@router.get("/password-reset/{token}")
def new_password_page(request: Request, token: str, session: SessionDep) -> Response:
    request.state.area = "login"
    try:
        resets.check_reset(session, token)
    except NotFound:
        return render(request, "dashboard/password_reset_new.html", {"invalid": True}, status=404)
    return render(
        request,
        "dashboard/password_reset_new.html",
        {"invalid": False, "token": token, "error": None},
    )


@router.post("/password-reset/{token}")
def new_password(
    request: Request,
    token: str,
    session: SessionDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Set the new password, end every other session, unlock the account and sign in."""
    request.state.area = "login"
    context: dict[str, object] = {"invalid": False, "token": token, "error": None}
    if len(password) < MIN_PASSWORD:
        context["error"] = "short"
    elif password != confirm:
        context["error"] = "mismatch"
    if context["error"]:
        return render(request, "dashboard/password_reset_new.html", context, status=422)
    try:
        user = resets.complete_reset(session, token, password)
    except NotFound:
        return render(request, "dashboard/password_reset_new.html", {"invalid": True}, status=404)
    sign_in_staff(request, session, user)
    return RedirectResponse("/dashboard", status_code=303)
