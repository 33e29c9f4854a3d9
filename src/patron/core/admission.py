"""Admission control: a bounded number of requests in flight, a short wait, then 503.

Every request except the probes (``/health``, ``/ready``), ``/metrics`` and static files takes a
slot before it reaches the app. When all slots are busy it waits, first come first served, for at
most ``PATRON_REQUEST_QUEUE_SECONDS``; if none frees up by then it is refused at once with
``503 Service Unavailable`` and ``Retry-After: 1``. So under any load a client hears back quickly:
an answer from a server that is doing at most N things at a time (and so does each of them
quickly), or a refusal it can retry. Without a bound, a burst piles every request into the thread
pool and the database pool, where each waits its turn behind all the others until clients time
out (see docs/decisions/0040-bounded-requests-in-flight.md).

Optionally, requests that may write (any method but GET, HEAD, OPTIONS) also take one of fewer
write slots: on SQLite, where writers take turns on one lock, they then wait in this queue, in
order, instead of in SQLite's busy handler, which polls and serves no one in particular.

The middleware is generic (it knows no route); rate limits per client are another layer's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

# Probes and scrapes must answer while the server is saturated: a liveness probe that is refused
# under load gets a healthy, busy process killed.
EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
EXEMPT_PREFIXES = ("/static/",)
RETRY_AFTER_SECONDS = 1
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BUSY_MESSAGE = "the server is busy: retry after the number of seconds in Retry-After"
# Pages are read by people: a plain sentence in both of Patron's languages, not a JSON envelope.
BUSY_PAGE = "Patron is busy: please try again in a moment.\nPatron 正忙，请稍后再试。\n"


@dataclass
class Slots:
    """Counting slots handed to waiters in arrival order (one event loop at a time)."""

    size: int
    busy: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    refused: int = 0

    async def take(self, wait_seconds: float) -> bool:
        """Take a slot, waiting at most ``wait_seconds``; False if none came in time."""
        if self.busy < self.size and not self.waiting:
            self.busy += 1
            return True
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(handed)
        try:
            await asyncio.wait_for(handed, wait_seconds)
        except BaseException as exc:  # timed out, or the client went away while waiting
            if handed.done() and not handed.cancelled():
                self.give()  # a slot arrived together with the cancellation: pass it on
            else:
                self._forget(handed)
            if isinstance(exc, TimeoutError):
                self.refused += 1
                return False
            raise
        return True

    def give(self) -> None:
        """Return a slot: to the longest waiter still waiting, else to the pool."""
        while self.waiting:
            handed = self.waiting.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        self.busy -= 1

    def _forget(self, handed: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self.waiting.remove(handed)


class AdmissionControl:
    """ASGI middleware: at most ``slots.size`` requests at once; the rest wait up to
    ``queue_seconds`` for a slot, then get 503 with ``Retry-After``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        slots: Slots,
        queue_seconds: float,
        write_slots: Slots | None = None,
    ) -> None:
        self.app = app
        self.slots = slots
        self.write_slots = write_slots
        self.queue_seconds = queue_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        # A write takes its write slot first, so it never holds a general slot (which a read
        # could use) while it waits for one.
        writes = self.write_slots if scope["method"] not in READ_METHODS else None
        began = time.monotonic()
        if writes is not None and not await writes.take(self.queue_seconds):
            await _refuse(scope, send)
            return
        try:
            left = max(self.queue_seconds - (time.monotonic() - began), 0.0)
            if not await self.slots.take(left):
                await _refuse(scope, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self.slots.give()
        finally:
            if writes is not None:
                writes.give()


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["path"].startswith("/api/"):
        body = json.dumps({"error": {"code": "overloaded", "message": BUSY_MESSAGE}}).encode()
        kind = b"application/json"
    else:
        body = BUSY_PAGE.encode()
        kind = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
