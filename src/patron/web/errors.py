"""Error pages: API paths keep the JSON envelope, page paths get a page in the layout."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.core.errors import PatronError
from patron.i18n import N_
from patron.web.auth import LoginRequired, NotAllowed, PortalSignInRequired
from patron.web.rendering import render
from patron.web.security import is_portal_path

log = logging.getLogger("patron.web")
Handler = Callable[[Request, Any], Any]

TITLES = {
    403: N_("You can't do that here"),
    404: N_("Page not found"),
    405: N_("Page not found"),
    413: N_("The file is too large"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
}
TEXTS = {
    403: N_("This page or action is not available to your account."),
    404: N_("The page you asked for does not exist, or it belongs to someone else."),
    405: N_("The page you asked for does not exist, or it belongs to someone else."),
    413: N_(
        "The upload is larger than this server accepts. Go back and choose a smaller file,"
        " or import it on the server with patron import."
    ),
    429: N_("Please wait a moment and try again."),
    500: N_("We logged the problem. Please try again in a moment."),
}


def wants_page(request: Request) -> bool:
    """Pages for browsers; the API, its docs and /health keep their JSON."""
    path = request.url.path
    return not (path.startswith("/api/") or path in {"/openapi.json", "/health", "/docs", "/redoc"})


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    """The layout's error page for ``status``; ``detail`` is an English msgid, or None."""
    if is_portal_path(request.url.path):
        request.state.area = "portal"
    shown = status if status in TITLES else (500 if status >= 500 else 404)
    context = {"status": status, "title": TITLES[shown], "text": detail or TEXTS[shown]}
    return render(request, "errors/error.html", context, status=status)


def csrf_failure_page(request: Request, reason: str) -> Awaitable[Response]:
    async def build() -> Response:
        log.warning("csrf check failed", extra={"reason": reason, "path": request.url.path})
        return error_page(
            request, 403, N_("This form has expired. Go back, reload the page and try again.")
        )

    return build()


def too_large_page(request: Request) -> Awaitable[Response]:
    async def build() -> Response:
        log.info("request body too large", extra={"path": request.url.path})
        return error_page(request, 413)

    return build()


def rate_limited_page(request: Request, retry_after: int) -> Awaitable[Response]:
    async def build() -> Response:
        log.info("rate limited", extra={"path": request.url.path, "retry_after": retry_after})
        return error_page(request, 429)

    return build()


def install_error_pages(app: FastAPI) -> None:
    """Wrap the JSON handlers so page requests get pages (the API is untouched)."""

    def page_or(original: Handler, status_of: Callable[[Any], int]) -> Handler:
        async def handler(request: Request, exc: Any) -> Response:
            if not wants_page(request):
                response = original(request, exc)
                if inspect.isawaitable(response):
                    response = await response
                assert isinstance(response, Response)
                return response
            status = status_of(exc)
            if status >= 500:
                log.exception("unhandled error on a page", exc_info=exc)
            return error_page(request, status)

        return handler

    handlers = app.exception_handlers
    app.add_exception_handler(
        PatronError, page_or(handlers[PatronError], lambda exc: exc.status_code)
    )
    app.add_exception_handler(
        StarletteHTTPException,
        page_or(handlers[StarletteHTTPException], lambda exc: exc.status_code),
    )
    app.add_exception_handler(Exception, page_or(handlers[Exception], lambda _exc: 500))

    async def to_login(_request: Request, exc: Exception) -> Response:
        target = exc.next_path if isinstance(exc, LoginRequired) else "/login"
        return RedirectResponse(target, status_code=303)

    async def portal_signin(request: Request, _exc: Exception) -> Response:
        request.state.area = "portal"
        return render(request, "portal/signed_out.html", status=401)

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        return error_page(request, 403)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(PortalSignInRequired, portal_signin)
    app.add_exception_handler(NotAllowed, not_allowed)
