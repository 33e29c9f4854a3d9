"""Sessions, CSRF protection and security headers for the pages.

- Two signed cookies: ``patron_staff`` for the dashboard and ``patron_portal`` for the member
  portal (Starlette's SessionMiddleware, itsdangerous-signed with ``settings.secret_key``). A
  request under ``/portal`` only ever sees the portal session, every other page only the staff
  session, so a member's sign-in can never stand in for a clerk's and logging out of one leaves
  the other alone.
- Every unsafe request outside ``/api/`` must carry the session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``), compared in constant time; a present ``Origin``
  header must be our own. The API is exempt: it authenticates with bearer keys, which a browser
  never attaches on its own. So is ``/u/`` (one-click unsubscribe, authorised by its signed
  token). See docs/decisions/0601-csrf-synchronizer-token.md.
"""

from __future__ import annotations

import hmac
import secrets
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.config import Settings

STAFF_COOKIE = "patron_staff"
PORTAL_COOKIE = "patron_portal"
STAFF_SESSION_SECONDS = 12 * 3600
PORTAL_SESSION_SECONDS = 30 * 24 * 3600
PORTAL_PREFIX = "/portal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# /u/: RFC 8058 one-click unsubscribe, POSTed by mail providers without cookies; the signed
# token in the path is what authorises it (and it can only ever revoke consent).
CSRF_EXEMPT_PREFIXES = ("/api/", "/u/")
# Forms are small; a bigger body is refused unless the app allows more (an import's upload:
# PATRON_IMPORT_MAX_UPLOAD_MB). Bodies are spooled to a temporary file past 1 MiB, so an upload
# does not sit in memory while its token is checked.
MAX_FORM_BYTES = 20 * 1024 * 1024
SPOOL_IN_MEMORY = 1 << 20
# A body over the limit is read to its end (and dropped) so the browser sees the answer rather
# than a reset connection; past this many times the limit the answer is sent at once.
DRAIN_FACTOR = 8
_REPLAY_CHUNK = 1 << 16
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's interactive docs load Swagger UI / ReDoc from their own pages; they keep their headers.
CSP_EXEMPT_PATHS = ("/docs", "/redoc")

CsrfFailure = Callable[[Request, str], Awaitable[Response]]
TooLarge = Callable[[Request], Awaitable[Response]]


def is_portal_path(path: str) -> bool:
    return path == PORTAL_PREFIX or path.startswith(PORTAL_PREFIX + "/")


def ensure_csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class AreaSessions:
    """Routes each request through the session middleware of its area (staff or portal)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        common: dict[str, Any] = {
            "secret_key": settings.secret_key,
            "same_site": "lax",
            "https_only": settings.secure_cookies,
        }
        self.staff = SessionMiddleware(
            app, session_cookie=STAFF_COOKIE, max_age=STAFF_SESSION_SECONDS, **common
        )
        self.portal = SessionMiddleware(
            app,
            session_cookie=PORTAL_COOKIE,
            max_age=PORTAL_SESSION_SECONDS,
            path=PORTAL_PREFIX,
            **common,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.staff(scope, receive, send)
            return
        chosen = self.portal if is_portal_path(scope["path"]) else self.staff
        await chosen(scope, receive, send)


def _origin_allowed(request: Request, settings: Settings) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    own = {urlsplit(settings.base_url).netloc, request.headers.get("host", "")}
    parsed = urlsplit(origin)
    return parsed.netloc in own and parsed.scheme in {"http", "https"}


async def _read_body(receive: Receive, limit: int) -> tuple[IO[bytes] | None, bool]:
    """The body spooled to a temporary file, and whether it was over ``limit`` (then dropped).
    None when the client went away."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (closed by the caller)
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            spool.close()
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            spool.write(chunk)
        more = message.get("more_body", False)
        if size > limit * DRAIN_FACTOR:
            break
    spool.seek(0)
    return spool, size > limit


def _replay(body: IO[bytes]) -> Receive:
    """The spooled body as ASGI messages, from where it stands (the caller closes it)."""
    ended = False

    async def receive() -> Message:
        nonlocal ended
        if ended:
            return {"type": "http.disconnect"}
        chunk = body.read(_REPLAY_CHUNK)
        if chunk:
            return {"type": "http.request", "body": chunk, "more_body": True}
        ended = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _form_token(scope: Scope, body: IO[bytes]) -> str | None:
    content_type = Request(scope).headers.get("content-type", "")
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            text = body.read().decode("latin-1")
            values = parse_qs(text, keep_blank_values=True).get("csrf_token")
            return values[0] if values else None
        if content_type.startswith("multipart/form-data"):
            async with Request(scope, receive=_replay(body)).form() as form:
                value = form.get("csrf_token")
                return value if isinstance(value, str) else None
        return None
    finally:
        body.seek(0)


class CsrfMiddleware:
    """Refuses unsafe page requests without the session's token (see module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        on_failure: CsrfFailure,
        max_body: int = MAX_FORM_BYTES,
        on_too_large: TooLarge | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.on_failure = on_failure
        self.max_body = max(max_body, MAX_FORM_BYTES)
        self.on_too_large = on_too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"].startswith(CSRF_EXEMPT_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not _origin_allowed(request, self.settings):
            await (await self.on_failure(request, "origin"))(scope, receive, send)
            return
        body, too_large = await _read_body(receive, self.max_body)
        if body is None:
            return  # the client went away
        if too_large:
            body.close()
            refusal: Response = PlainTextResponse("request too large", status_code=413)
            if self.on_too_large is not None:
                refusal = await self.on_too_large(request)
            await refusal(scope, receive, send)
            return
        try:
            given = request.headers.get("x-csrf-token") or await _form_token(scope, body)
            expected = scope.get("session", {}).get("csrf")
            if not tokens_match(expected, given):
                await (await self.on_failure(request, "token"))(scope, receive, send)
                return
            await self.app(scope, _replay(body), send)
        finally:
            body.close()


# Sent only when Patron is served over https (PATRON_BASE_URL): a browser that saw it refuses
# plain http for the host for a year, so it must never be sent from a development address.
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeaders:
    """Adds the headers every response should carry: no sniffing, no framing, a strict CSP,
    no powerful browser features; and HSTS when the public address is https."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.hsts = settings is not None and settings.base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope["path"].startswith(CSP_EXEMPT_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if not exempt:
                    headers.setdefault("Content-Security-Policy", CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
