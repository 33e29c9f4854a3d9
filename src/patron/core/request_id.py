"""A request id on every request: taken from ``X-Request-ID`` when the caller (or a proxy in
front) sends a usable one, made up otherwise; returned in the response's ``X-Request-ID`` and
written into every log line made while the request runs (:mod:`patron.core.logging`).

The id travels on with what the request caused: outbox events and messages written while it
runs store it (their ``request_id`` column), and the worker handles each of them inside
:func:`acting_for`, so its log lines about them carry the same id (ADR 0042).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
# Ids from outside go into logs and headers: letters, digits and a few marks, 128 at most.
_USABLE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served (or acted for), None outside one: the default of
    the ``request_id`` column of what a request writes for the worker."""
    return request_id.get()


@contextmanager
def acting_for(rid: str | None) -> Iterator[None]:
    """Work done for request ``rid`` (the worker handling an event or a message it caused):
    log lines made inside carry its id, and events written inside store it again."""
    token = request_id.set(rid)
    try:
        yield
    finally:
        request_id.reset(token)


def usable(given: str | None) -> str | None:
    """``given`` if it can be logged and echoed as it is, else None."""
    return given if given is not None and _USABLE.fullmatch(given) else None


class RequestIdMiddleware:
    """ASGI middleware: sets :data:`request_id` for the request and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        rid = usable(given.decode("latin-1")) or uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
