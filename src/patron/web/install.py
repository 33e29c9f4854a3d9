"""Plug the pages into the app: sessions, CSRF, headers, static files, error pages, routes."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from patron.core.config import Settings
from patron.core.ratelimit import RateLimits
from patron.i18n.templates import STATIC_DIR
from patron.web.errors import (
    csrf_failure_page,
    install_error_pages,
    rate_limited_page,
    too_large_page,
)
from patron.web.nav import collect
from patron.web.registry import DASHBOARD, PORTAL
from patron.web.security import AreaSessions, CsrfMiddleware, SecurityHeaders


def install_web(app: FastAPI, settings: Settings) -> None:
    """Add the dashboard and the member portal to ``app``."""
    shells = {"dashboard": collect(DASHBOARD), "portal": collect(PORTAL)}
    app.state.web_shells = shells
    for shell in shells.values():
        for router in shell.routers:
            app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_pages(app)
    # Starlette runs the last added middleware first: headers → sessions → rate limits → CSRF
    # → routes (the limits answer before a body is read; a page's answer needs the session).
    app.add_middleware(
        CsrfMiddleware,
        settings=settings,
        on_failure=csrf_failure_page,
        # an import's file, with room for the form's other fields and the multipart framing
        max_body=(settings.import_max_upload_mb << 20) + (1 << 20),
        on_too_large=too_large_page,
    )
    app.add_middleware(RateLimits, settings=settings, on_page_limited=rate_limited_page)
    app.add_middleware(AreaSessions, settings=settings)
    app.add_middleware(SecurityHeaders, settings=settings)
