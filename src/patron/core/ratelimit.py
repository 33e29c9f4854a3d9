"""Request rate limits, per API key and per client address, with the ``limits`` library.

Each rule names the requests it counts and what it counts them by (the API key's public
prefix, the client address, a portal sign-in token). A request over any of its rules is
answered 429 with ``Retry-After`` before it reaches the session, the CSRF check or a route.

Counters live in ``PATRON_RATE_LIMIT_STORAGE``: ``memory://`` (the default) keeps them in the
process, which needs no other server but counts each server process apart; ``redis://…`` (or
any storage ``limits`` supports) shares them between processes
(docs/decisions/0017-rate-limits-with-limits.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from patron.core.config import Settings
from patron.core.http import error_response

Identify = Callable[[Scope], str | None]
Limited = Callable[[Request, int], Awaitable[Response]]

API_PREFIX = "/api/"
PORTAL_SIGNIN_PREFIX = "/portal/signin/"
# Pages that check a secret (a password, an email address for a reset link).
SIGN_IN_POSTS = frozenset({"/login", "/password-reset"})


@dataclass(frozen=True)
class Rule:
    """``limit`` requests per window for each value ``identify`` gives (None: not counted)."""

    name: str
    limit: RateLimitItem
    identify: Identify


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def api_key_prefix(scope: Scope) -> str | None:
    """The public part of a bearer key (``pk_<prefix>_<secret>``): the secret is never a
    counter's name, so it cannot leak into the limiter's storage."""
    scheme, _, raw = _header(scope, b"authorization").partition(" ")
    if scheme.lower() != "bearer":
        return None
    parts = raw.strip().split("_")
    return parts[1][:16] if len(parts) >= 3 and parts[0] == "pk" else None


def _on_api(identify: Identify) -> Identify:
    return lambda scope: identify(scope) if scope["path"].startswith(API_PREFIX) else None


def _on_sign_in(scope: Scope) -> str | None:
    if scope["method"] == "POST" and scope["path"] in SIGN_IN_POSTS:
        return client_address(scope)
    return None


def _on_portal_signin(identify: Identify) -> Identify:
    return lambda scope: identify(scope) if scope["path"].startswith(PORTAL_SIGNIN_PREFIX) else None


def _portal_token(scope: Scope) -> str:
    """A digest of the link's token: a shared storage (Redis) never holds a usable link."""
    token = str(scope["path"])[len(PORTAL_SIGNIN_PREFIX) :]
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def rules_from(settings: Settings) -> list[Rule]:
    """The rules the settings ask for (see docs/configuration.md)."""
    return [
        Rule("api_key", parse(settings.rate_limit_api_key), _on_api(api_key_prefix)),
        Rule("api_address", parse(settings.rate_limit_api_address), _on_api(client_address)),
        Rule("sign_in_address", parse(settings.rate_limit_sign_in_address), _on_sign_in),
        Rule(
            "portal_address",
            parse(settings.rate_limit_portal_address),
            _on_portal_signin(client_address),
        ),
        Rule(
            "portal_token",
            parse(settings.rate_limit_portal_token),
            _on_portal_signin(_portal_token),
        ),
    ]


async def json_limited(_request: Request, retry_after: int) -> Response:
    response = error_response(
        429, "rate_limited", f"too many requests; try again in {retry_after} seconds"
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


class RateLimits:
    """ASGI middleware applying :func:`rules_from`; ``on_page_limited`` answers browsers."""

    def __init__(
        self, app: ASGIApp, settings: Settings, on_page_limited: Limited | None = None
    ) -> None:
        self.app = app
        self.enabled = settings.rate_limit_enabled
        self.rules = rules_from(settings)
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self.on_page_limited = on_page_limited

    def _over(self, scope: Scope) -> int | None:
        """Seconds to wait when the request is over a rule, else None (the request counted)."""
        for rule in self.rules:
            who = rule.identify(scope)
            if who is None:
                continue
            if not self.limiter.hit(rule.limit, rule.name, who):
                reset = self.limiter.get_window_stats(rule.limit, rule.name, who).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return
        wait = self._over(scope)
        if wait is None:
            await self.app(scope, receive, send)
            return
        answer: Limited = json_limited
        if self.on_page_limited is not None and not scope["path"].startswith(API_PREFIX):
            answer = self.on_page_limited
        response = await answer(Request(scope), wait)
        response.headers["Retry-After"] = str(wait)
        await response(scope, receive, send)
