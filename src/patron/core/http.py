"""HTTP plumbing shared by every router: the session per request, pagination, error envelope."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.core.admission import BUSY_MESSAGE, RETRY_AFTER_SECONDS
from patron.core.config import Settings
from patron.core.errors import PatronError

log = logging.getLogger("patron.http")
T = TypeVar("T")


READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Ids and counters are 64-bit signed integers in both databases: a larger number in a path or
# a query is a 422, not a driver overflow (ADR 0031).
INT64_MAX = 2**63 - 1
# An object id in a path, and an optional id filter in a query.
PathId = Annotated[int, Path(ge=1, le=INT64_MAX)]
QueryId = Annotated[int | None, Query(ge=1, le=INT64_MAX)]


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed when the endpoint returns, rolled back on error.

    GET requests get a read session (no write lock on SQLite); the rest a write session.
    """
    factory: sessionmaker[Session] = (
        request.app.state.read_sessions
        if request.method in READ_METHODS
        else request.app.state.sessions
    )
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": commit before the response is sent, so a client never sees success for a
# transaction that then fails to commit, nor reads stale rows right after a redirect.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


# Every idempotent write answers its first call 201 and a replay 200 with this header and the
# first call's answer (ADR 0032).
REPLAY_HEADER = "Idempotent-Replayed"


# One Idempotency-Key rule for every operation (ADR 0034): 1 to 200 characters, documented the
# same everywhere. Required where a retry could move a balance twice (checkout commit, top-ups,
# mall redemptions, balance adjustments); optional elsewhere. Orders and refunds carry their
# own key in the body (``external_id``). Stored keys gain a short domain prefix
# (``checkout:…``), which the idempotency table's wider column holds.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 200
IDEMPOTENCY_KEY_WORDS = (
    "1 to 200 characters, unique per merchant (a UUID is a good choice). A retry with the same "
    "key and body answers the first result (200, `Idempotent-Replayed: true`); the same key "
    "with another body is a 409 `idempotency_key_reused`."
)
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description=IDEMPOTENCY_KEY_WORDS,
    ),
]
OptionalIdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description=IDEMPOTENCY_KEY_WORDS,
    ),
]


def answer_replay(response: Response, replayed: bool) -> None:
    """Mark a replay: 200 and ``Idempotent-Replayed: true`` (the first call keeps its 201)."""
    if replayed:
        response.status_code = 200
        response.headers[REPLAY_HEADER] = "true"


def replay_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an idempotent write: its 200 for a replay."""
    return {
        200: {
            "model": model,
            "description": "a replay: the first answer, with the same Idempotency-Key and body",
            "headers": {
                REPLAY_HEADER: {
                    "description": "true: nothing was done again",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        }
    }


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[T]
    next_cursor: int | None = None


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
        cursor: Annotated[
            int | None,
            Query(ge=1, le=INT64_MAX, description="next_cursor of the previous page"),
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor


PageDep = Annotated[PageParams, Depends()]


def page_of(rows: list[Any], limit: int, build: Any) -> dict[str, Any]:
    """Rows fetched with ``limit + 1`` (newest first, by id) → a page with its next cursor."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [build(r) for r in rows],
        "next_cursor": rows[-1].id if more and rows else None,
    }


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


# deadlock_detected, serialization_failure: the database rolled the transaction back.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
RETRY_MESSAGE = (
    "another request changed the same records at the same moment; nothing was written: "
    "send the same request again (with the same Idempotency-Key) after Retry-After"
)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in one envelope: ``{"error": {"code", "message", "details"?}}``."""

    @app.exception_handler(PatronError)
    async def _patron_error(_request: Request, exc: PatronError) -> JSONResponse:
        response = error_response(exc.status_code, exc.code, exc.message, exc.details)
        if exc.status_code == 429 and isinstance(exc.details, dict):
            response.headers["Retry-After"] = str(exc.details.get("retry_after", 1))
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = details[0] if details else {"field": "", "message": "invalid request"}
        return error_response(
            422, "invalid_request", f"{first['field']}: {first['message']}", details
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
            413: "payload_too_large",
        }
        return error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
        # The last defence behind the input guard and the amount bounds (ADR 0031): a value
        # the database cannot store is the request's fault, and the transaction rolled back.
        log.warning("value the database cannot store: %s", type(exc).__name__, exc_info=exc)
        return error_response(422, "invalid_request", "a value is out of the range Patron stores")

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        # Every database connection stayed busy for the pool's whole timeout: the server is
        # overloaded, not broken. Refuse like admission control does (core/admission.py).
        log.warning("no database connection free within the pool timeout")
        response = error_response(503, "overloaded", BUSY_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) not in TRANSIENT_SQLSTATES:
            return await _unexpected(request, exc)
        # PostgreSQL broke a deadlock (or a serialization conflict) by rolling this transaction
        # back: nothing was written, and the same request, sent again, succeeds (ADR 0043).
        log.warning("transaction rolled back by the database: %s", type(exc.orig).__name__)
        response = error_response(503, "retry", RETRY_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
