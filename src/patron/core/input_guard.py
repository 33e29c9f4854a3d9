"""Input no database can store is refused at the edge, for every route at once (ADR 0031).

Two kinds of value pass every type check and then fail in the driver, which answered 500:
integers beyond 64 bits (SQLite and PostgreSQL store at most signed 64-bit integers) and NUL
characters (PostgreSQL text cannot hold them). This ASGI middleware reads the request before any
route does and answers 422 ``invalid_request``, naming the field, when

- a JSON body holds an integer outside the signed 64-bit range, a non-finite number, or a
  number too large to be an integer of that range, or a NUL character in any string or key;
- the path or the query string holds a NUL character (``%00``).

Integer path and query parameters carry their own 64-bit bounds (``PathId``, ``QueryId``,
the cursor); bodies are checked here because a model's fields are too many to bound one by one.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.http import INT64_MAX, error_response

INT64_MIN = -INT64_MAX - 1


def problem_in(value: Any, where: str) -> tuple[str, str] | None:
    """(field, message) of the first value no database can store, or None."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                return at, "integer beyond the 64-bit range"
        elif isinstance(item, float):
            if not math.isfinite(item) or abs(item) > INT64_MAX:
                return at, "number out of range"
        elif isinstance(item, str):
            if "\x00" in item:
                return at, "text must not contain NUL characters"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return at, "a key must not contain NUL characters"
                stack.append((inner, f"{at}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{at}.{i}") for i, inner in enumerate(item))
    return None


def _no_constant(name: str) -> float:
    raise ValueError(name)


class InputGuard:
    """Refuse what the databases cannot store before a route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._url_problem(scope)
        if found is None and _is_json(scope):
            body, receive = await _buffered(receive)
            found = _body_problem(body)
        if found is None:
            await self.app(scope, receive, send)
            return
        field, message = found
        response = error_response(
            422, "invalid_request", f"{field}: {message}", [{"field": field, "message": message}]
        )
        await response(scope, receive, send)

    @staticmethod
    def _url_problem(scope: Scope) -> tuple[str, str] | None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"\x00" in unquote_to_bytes(raw_path) or "\x00" in scope["path"]:
            return "path", "must not contain NUL characters"
        if b"\x00" in unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" ")):
            return "query", "must not contain NUL characters"
        return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it on to the app unchanged."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _body_problem(body: bytes) -> tuple[str, str] | None:
    if not body:
        return None
    try:
        # NaN and Infinity are not JSON; Python's parser takes them unless told not to.
        value = json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        if str(exc) in {"NaN", "Infinity", "-Infinity"}:
            return "body", "number out of range"
        return None  # malformed JSON: the route's validation says so
    return problem_in(value, "body")
