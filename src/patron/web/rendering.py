"""Jinja2 rendering: one environment per language, the layout's context, error pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from patron.i18n import (
    DEFAULT_LOCALE,
    LANGUAGES,
    Formatter,
    negotiate,
    normalise_locale,
    translations_for,
)
from patron.i18n.templates import environment
from patron.tenancy.models import Role
from patron.web.nav import NavItem, Shell
from patron.web.security import ensure_csrf_token


def session_data(request: Request) -> dict[str, Any]:
    """The signed-cookie session of this request's area (empty if none)."""
    data: dict[str, Any] = request.scope.get("session", {})
    return data


def resolve_locale(request: Request) -> str:
    """The reader's language: their choice in the switcher, else their profile's, else the
    browser's, else English."""
    for candidate in (
        session_data(request).get("locale"),
        getattr(request.state, "preferred_locale", None),
    ):
        code = normalise_locale(candidate)
        if code:
            return code
    return negotiate(request.headers.get("accept-language")) or DEFAULT_LOCALE


def formatter_for(request: Request) -> Formatter:
    merchant = getattr(request.state, "merchant", None)
    if merchant is None:
        return Formatter(resolve_locale(request))
    return Formatter(resolve_locale(request), merchant.currency, merchant.timezone)


def csrf_field(request: Request) -> Markup:
    from_session = session_data(request).get("csrf", "")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(from_session)


def translate(request: Request, message: str, **params: Any) -> str:
    """Translate a message for this request's reader (for flashes and page titles in Python)."""
    text = translations_for(resolve_locale(request)).gettext(message)
    return text % params if params else text


def _visible_nav(shell: Shell | None, staff: Any) -> list[NavItem]:
    if shell is None:
        return []
    rank = Role(staff.role).rank if staff is not None else Role.CLERK.rank
    return [item for item in shell.nav if item.min_role.rank <= rank]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` in the reader's language with the shell's context."""
    code = resolve_locale(request)
    shells: dict[str, Shell] = getattr(request.app.state, "web_shells", {})
    area = getattr(request.state, "area", "dashboard")
    session = session_data(request)
    if "session" in request.scope:
        ensure_csrf_token(request.scope["session"])
    values: dict[str, Any] = {
        "request": request,
        "lang": LANGUAGES[code],
        "fmt": formatter_for(request),
        "csrf_field": csrf_field(request),
        "csrf_token": session.get("csrf", ""),
        "nav": _visible_nav(shells.get(area), getattr(request.state, "staff", None)),
        "path": request.url.path,
        "staff": getattr(request.state, "staff", None),
        "merchant": getattr(request.state, "merchant", None),
        "member": getattr(request.state, "member", None),
        "flashes": session.pop("flashes", []) if "flashes" in session else [],
        "area": area,
    }
    values.update(context or {})
    html = environment(code).get_template(template).render(values)
    return HTMLResponse(html, status_code=status)


def flash(request: Request, message: str, level: str = "success") -> None:
    """A one-time notice shown on the next page (already translated by the caller)."""
    session = request.scope.get("session")
    if session is not None:
        session["flashes"] = [*session.get("flashes", []), {"level": level, "text": message}]


def remember_language(request: Request, locale: str, next: str, fallback: str) -> RedirectResponse:
    """Keep the reader's language choice in their session (both shells' switchers use this)."""
    session = request.scope.get("session")
    if locale in LANGUAGES and session is not None:
        session["locale"] = locale
    target = next if next.startswith("/") and not next.startswith("//") else fallback
    return RedirectResponse(target, status_code=303)
