"""The worker's two webhook tasks: fan events out to endpoints, then deliver what is due.

Fan-out turns each committed outbox event into one delivery per matching endpoint, and marks the
event in the same transaction, so an event is fanned out exactly once. Delivery leases due rows
(:func:`patron.core.claim.claim_due`), commits the lease, POSTs outside any transaction, and
records each attempt in a transaction of its own. A worker that dies mid-batch leaves leases that
expire; those deliveries are sent again with the same ``webhook-id``, which receivers de-duplicate.
"""

from __future__ import annotations

import json
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from math import floor
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from patron import __version__
from patron.core.claim import claim_due
from patron.core.clock import Clock, clock_of, utcnow
from patron.core.config import Settings
from patron.core.db import is_postgres, transaction
from patron.core.events import OutboxEvent
from patron.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from patron.webhooks.service import ALL_EVENTS, new_message_id

# The Standard Webhooks schedule: after the first attempt, wait 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h (eight attempts in about 27.6 hours). Beyond it, the last step repeats.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
FAN_OUT_BATCH = 500
DELIVERY_BATCH = 20
RESPONSE_BODY_LIMIT = 4096
USER_AGENT = f"Patron-Webhooks/{__version__}"


def retry_delay(attempts_made: int) -> timedelta:
    """How long to wait after the ``attempts_made``-th failed attempt."""
    return RETRY_SCHEDULE[min(attempts_made, len(RETRY_SCHEDULE)) - 1]


def _subscribed(event_types: list[str], event_type: str) -> bool:
    return ALL_EVENTS in event_types or event_type in event_types


def fan_out(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Create the deliveries of up to 500 new events; return how many events were handled."""
    with transaction(sessions) as session:
        query = (
            select(OutboxEvent.id, OutboxEvent.merchant_id, OutboxEvent.type)
            .where(OutboxEvent.fanned_out_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(FAN_OUT_BATCH)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        events = list(session.execute(query))
        if not events:
            return 0
        endpoints: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
        for endpoint_id, merchant_id, event_types in session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.merchant_id, WebhookEndpoint.event_types)
            .where(
                WebhookEndpoint.merchant_id.in_({e.merchant_id for e in events}),
                WebhookEndpoint.active.is_(True),
            )
            .order_by(WebhookEndpoint.id)
        ):
            endpoints[merchant_id].append((endpoint_id, event_types))
        now = utcnow(session)
        rows = [
            {
                "merchant_id": event.merchant_id,
                "endpoint_id": endpoint_id,
                "event_id": event.id,
                "message_id": new_message_id(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for endpoint_id, event_types in endpoints[event.merchant_id]
            if _subscribed(event_types, event.type)
        ]
        if rows:
            session.execute(insert(WebhookDelivery), rows)
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([e.id for e in events]))
            .values(fanned_out_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(events)


@dataclass(frozen=True)
class Job:
    """Everything needed to POST one delivery, read inside the claim transaction."""

    delivery_id: int
    merchant_id: int
    endpoint_id: int
    url: str
    secret: str
    message_id: str
    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    body: str | None = None
    headers: dict[str, str] | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _claim(sessions: sessionmaker[Session], settings: Settings) -> tuple[list[Job], int, Clock]:
    """Lease a batch; return the jobs to POST, how many rows were claimed, and the clock."""
    with transaction(sessions) as session:
        now = utcnow(session)
        # The lease covers a whole batch of sequential POSTs, each bounded by the timeout.
        lease = timedelta(seconds=DELIVERY_BATCH * (settings.webhook_timeout_seconds + 1) + 60)
        ids = claim_due(
            session,
            WebhookDelivery,
            (WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now),
            limit=DELIVERY_BATCH,
            lease=lease,
            order_by=WebhookDelivery.next_attempt_at,
        )
        if not ids:
            return [], 0, clock_of(session)
        rows = session.execute(
            select(WebhookDelivery, WebhookEndpoint, OutboxEvent)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        ).all()
        jobs = []
        for delivery, endpoint, event in rows:
            if not endpoint.active:
                # Deactivated after fan-out: stop here; a replay sends it once reactivated.
                delivery.status = "failed"
                delivery.last_error = "endpoint is inactive"
                delivery.next_attempt_at = None
                delivery.locked_until = None
                continue
            jobs.append(
                Job(
                    delivery.id,
                    delivery.merchant_id,
                    endpoint.id,
                    endpoint.url,
                    endpoint.secret,
                    delivery.message_id,
                    event.type,
                    event.occurred_at,
                    event.payload,
                )
            )
        return jobs, len(ids), clock_of(session)


def message_body(event_type: str, occurred_at: datetime, payload: dict[str, Any]) -> str:
    """The JSON body every delivery carries (Standard Webhooks payload structure)."""
    stamp = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": event_type, "timestamp": stamp, "data": payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; a receiver may send anything.
    return text.replace("\x00", "\ufffd")


def post(client: httpx.Client, job: Job, clock: Clock) -> Outcome:
    """POST one delivery, signed now; never raises (a failure is the attempt's outcome)."""
    body = message_body(job.event_type, job.occurred_at, job.payload)
    attempted_at = clock.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": job.message_id,
        "webhook-timestamp": str(floor(attempted_at.timestamp())),
        "webhook-signature": Webhook(job.secret).sign(job.message_id, attempted_at, body),
    }
    started = time.perf_counter()
    try:
        with client.stream("POST", job.url, content=body.encode(), headers=headers) as response:
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= RESPONSE_BODY_LIMIT:
                    break
        return Outcome(
            attempted_at,
            round((time.perf_counter() - started) * 1000),
            status_code=response.status_code,
            body=_clean(received[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")),
            headers={k: _clean(v) for k, v in response.headers.items()},
        )
    except Exception as exc:  # timeouts, refused connections, bad URLs: all are outcomes
        return Outcome(
            attempted_at,
            round((time.perf_counter() - started) * 1000),
            error=_clean(f"{type(exc).__name__}: {exc}".rstrip(": ")),
        )


def record(session: Session, job: Job, outcome: Outcome, max_attempts: int) -> None:
    """Store the attempt and move the delivery on: succeeded, retry later, or failed."""
    delivery = session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
    if delivery is None:
        return  # the endpoint was deleted meanwhile, and its deliveries with it
    now = utcnow(session)
    session.add(
        WebhookAttempt(
            merchant_id=job.merchant_id,
            delivery_id=job.delivery_id,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            response_body=outcome.body,
            response_headers=outcome.headers,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.locked_until = None
    if outcome.succeeded:
        delivery.status = "succeeded"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif outcome.status_code == 410:
        # 410 Gone: the receiver says this URL is gone for good; stop sending to it.
        delivery.status = "failed"
        delivery.next_attempt_at = None
        delivery.last_error = "410 Gone: the endpoint was deactivated"
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == job.endpoint_id)
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
    elif delivery.attempts >= max_attempts:
        delivery.status = "failed"
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~35 ms; build it once, not once per batch.
    return httpx.create_ssl_context()


def deliver_due(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Deliver up to one batch of due deliveries; return how many were attempted."""
    jobs, claimed, clock = _claim(sessions, settings)
    if not jobs:
        return claimed
    with httpx.Client(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, verify=_tls_context()
    ) as client:
        for job in jobs:
            outcome = post(client, job, clock)
            with transaction(sessions) as session:
                record(session, job, outcome, settings.webhook_max_attempts)
    return claimed
