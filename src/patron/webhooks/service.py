"""Webhook endpoints, deliveries and the event log: what the API and the dashboard call.

Services only ``flush()``; the caller (the request, a worker task, a CLI command) commits.
Everything is scoped by ``merchant_id``: another merchant's id is simply "not found".
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import OutboxEvent, emit, known_event_types, register_event_types
from patron.core.paging import newest_first
from patron.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

TEST_EVENT = "webhook.test"
register_event_types(TEST_EVENT)

ALL_EVENTS = "*"
STATUSES = ("pending", "succeeded", "failed")
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """The ``webhook-id`` of a delivery: unique, and stable across its retries."""
    return "msg_" + secrets.token_urlsafe(18)


def _check_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidInput(f"{url!r} is not a valid URL", code="invalid_url") from exc
    if parts.scheme not in {"http", "https"} or not host or len(url) > 2000:
        raise InvalidInput(
            "the URL must be http:// or https:// with a host (at most 2000 characters)",
            code="invalid_url",
            details={"url": url},
        )
    return url


def _check_event_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise InvalidInput(
            "subscribe to at least one event type (or '*')", code="unknown_event_type"
        )
    known = set(known_event_types())
    unknown = [t for t in event_types if t != ALL_EVENTS and t not in known]
    if unknown:
        raise InvalidInput(
            f"unknown event type(s): {', '.join(unknown)}",
            code="unknown_event_type",
            details={"unknown": unknown, "known": sorted(known)},
        )
    return list(dict.fromkeys(event_types))  # drop repeats, keep the caller's order


def create_endpoint(
    session: Session,
    merchant_id: int,
    url: str,
    event_types: list[str],
    description: str | None = None,
    active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint; its secret is generated here and returned once by the API."""
    endpoint = WebhookEndpoint(
        merchant_id=merchant_id,
        url=_check_url(url),
        description=description,
        event_types=_check_event_types(event_types),
        secret=new_secret(),
        active=active,
        created_at=utcnow(session),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[WebhookEndpoint]:
    """The merchant's endpoints, oldest first; with ``limit``, one page newest first."""
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookEndpoint.id)
    )
    return list(session.scalars(newest_first(query, WebhookEndpoint.id, limit, cursor)))


def get_endpoint(session: Session, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of the merchant (404 for anyone else's)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.merchant_id != merchant_id:
        raise NotFound("webhook endpoint not found", code="webhook_endpoint_not_found")
    return endpoint


def update_endpoint(
    session: Session, merchant_id: int, endpoint_id: int, changes: dict[str, Any]
) -> WebhookEndpoint:
    """Change url, description, event_types or active; fields not in ``changes`` stay."""
    endpoint = get_endpoint(session, merchant_id, endpoint_id)
    # Validate everything before touching the row, so a bad field changes nothing.
    url = _check_url(changes["url"]) if changes.get("url") is not None else None
    types = (
        _check_event_types(changes["event_types"])
        if changes.get("event_types") is not None
        else None
    )
    if url is not None:
        endpoint.url = url
    if types is not None:
        endpoint.event_types = types
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("active") is not None:
        endpoint.active = bool(changes["active"])
    session.flush()
    return endpoint


def delete_endpoint(session: Session, merchant_id: int, endpoint_id: int) -> None:
    """Delete an endpoint with its deliveries and attempts (the database cascades)."""
    endpoint = get_endpoint(session, merchant_id, endpoint_id)
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; deliveries signed from now on use it (retries included)."""
    endpoint = get_endpoint(session, merchant_id, endpoint_id)
    endpoint.secret = new_secret()
    session.flush()
    return endpoint


def send_test_event(session: Session, merchant_id: int, endpoint_id: int) -> WebhookDelivery:
    """Emit a ``webhook.test`` event delivered to this endpoint only (never fanned out)."""
    endpoint = get_endpoint(session, merchant_id, endpoint_id)
    if not endpoint.active:
        raise Conflict("the endpoint is inactive; activate it first", code="endpoint_inactive")
    now = utcnow(session)
    event = emit(
        session,
        merchant_id,
        TEST_EVENT,
        {"endpoint_id": endpoint.id, "message": "a test event from Patron"},
        subject_id=endpoint.id,
    )
    event.fanned_out_at = now  # the fan-out task must not send it to the other endpoints
    session.flush()
    delivery = _new_delivery(merchant_id, endpoint.id, event.id, now)
    session.add(delivery)
    session.flush()
    return delivery


def _new_delivery(
    merchant_id: int,
    endpoint_id: int,
    event_id: int,
    now: datetime,
    replay_of_id: int | None = None,
) -> WebhookDelivery:
    return WebhookDelivery(
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        event_id=event_id,
        replay_of_id=replay_of_id,
        message_id=new_message_id(),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


@dataclass(frozen=True)
class DeliveryFilter:
    endpoint_id: int | None = None
    event_id: int | None = None
    status: str | None = None
    event_type: str | None = None


_DELIVERY_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.endpoint_id,
    WebhookDelivery.event_id,
    OutboxEvent.type.label("event_type"),
    WebhookDelivery.replay_of_id,
    WebhookDelivery.message_id,
    WebhookDelivery.status,
    WebhookDelivery.attempts.label("attempt_count"),
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
    WebhookDelivery.created_at,
    WebhookDelivery.delivered_at,
)


def _delivery_query(merchant_id: int) -> Select[*tuple[Any, ...]]:
    return (
        select(*_DELIVERY_COLUMNS)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.merchant_id == merchant_id)
    )


def list_deliveries(
    session: Session, merchant_id: int, filters: DeliveryFilter, limit: int, cursor: int | None
) -> list[Row[Any]]:
    """Deliveries newest first, ``limit + 1`` rows (for :func:`patron.core.http.page_of`)."""
    if filters.status is not None and filters.status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    query = _delivery_query(merchant_id)
    if filters.endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.event_id is not None:
        query = query.where(WebhookDelivery.event_id == filters.event_id)
    if filters.status is not None:
        query = query.where(WebhookDelivery.status == filters.status)
    if filters.event_type is not None:
        query = query.where(OutboxEvent.type == filters.event_type)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    return list(session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))


def get_delivery(session: Session, merchant_id: int, delivery_id: int) -> Row[Any]:
    """One delivery (as a row with its event type); 404 for another merchant's."""
    row = session.execute(
        _delivery_query(merchant_id).where(WebhookDelivery.id == delivery_id)
    ).first()
    if row is None:
        raise NotFound("webhook delivery not found", code="webhook_delivery_not_found")
    return row


def delivery_attempts(session: Session, merchant_id: int, delivery_id: int) -> list[WebhookAttempt]:
    """The recorded attempts of a delivery, oldest first."""
    return list(
        session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.merchant_id == merchant_id,
                WebhookAttempt.delivery_id == delivery_id,
            )
            .order_by(WebhookAttempt.id)
        )
    )


def replay_delivery(session: Session, merchant_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery with a new message id.

    ``replay_of_id`` links each delivery of an (event, endpoint) pair to the one before it, so
    the deliveries of a pair form one chain (the table allows each delivery one successor).
    Replaying any delivery of the chain appends to its end.
    """
    original = get_delivery(session, merchant_id, delivery_id)
    tail = session.scalar(
        select(func.max(WebhookDelivery.id)).where(
            WebhookDelivery.event_id == original.event_id,
            WebhookDelivery.endpoint_id == original.endpoint_id,
        )
    )
    delivery = _new_delivery(
        merchant_id, original.endpoint_id, original.event_id, utcnow(session), replay_of_id=tail
    )
    session.add(delivery)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "this delivery is being replayed by another request; try again",
            code="replay_conflict",
        ) from exc
    return delivery


def list_events(
    session: Session,
    merchant_id: int,
    limit: int,
    cursor: int | None,
    type_: str | None = None,
    subject_id: int | None = None,
) -> list[OutboxEvent]:
    """Events from the outbox, newest first, ``limit + 1`` rows."""
    query = select(OutboxEvent).where(OutboxEvent.merchant_id == merchant_id)
    if type_ is not None:
        query = query.where(OutboxEvent.type == type_)
    if subject_id is not None:
        query = query.where(OutboxEvent.subject_id == subject_id)
    if cursor is not None:
        query = query.where(OutboxEvent.id < cursor)
    return list(session.scalars(query.order_by(OutboxEvent.id.desc()).limit(limit + 1)))
