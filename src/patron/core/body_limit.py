"""A bounded request body for the API: past the limit the answer is 413, read no further.

``Content-Length`` over the limit is refused before a byte is read; a body sent without it
(chunked) is counted as it arrives and refused the moment it passes the limit. Imports may send
``PATRON_IMPORT_MAX_UPLOAD_MB`` (and the multipart framing); every other API request
``PATRON_API_MAX_BODY_MB``. Pages have their own limit in the CSRF check (web/security.py).
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.config import Settings
from patron.core.http import error_response

API_PREFIX = "/api/"
IMPORT_PREFIX = "/api/v1/imports/"
FRAMING = 1 << 20


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit (FastAPI passes an
    HTTPException raised while reading the body through as it is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_text(limit))


def too_large_text(limit: int) -> str:
    return f"the request body is larger than this endpoint accepts ({limit} bytes)"


class ApiBodyLimit:
    """ASGI middleware: refuses an API request whose body is over its limit with 413."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.imports = (settings.import_max_upload_mb << 20) + FRAMING
        self.other = settings.api_max_body_mb << 20

    def limit_for(self, path: str) -> int:
        return self.imports if path.startswith(IMPORT_PREFIX) else self.other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = error_response(413, "payload_too_large", too_large_text(limit))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded, watched)
        except BodyTooLarge:
            # Raised while a middleware (the input guard) read the body, outside any route's
            # exception handlers: answer here, as FastAPI would inside a route.
            if started:
                raise
            response = error_response(413, "payload_too_large", too_large_text(limit))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
