"""The worker's two webhook tasks: fan events out to endpoints, then deliver what is due.

Fan-out turns each committed outbox event into one delivery per matching endpoint, and marks the
event in the same transaction, so an event is fanned out exactly once. Delivery leases due rows
(:func:`patron.core.claim.claim_due`), commits the lease, POSTs the batch outside any
transaction (endpoints at once, each POST within ``PATRON_WEBHOOK_TIMEOUT_SECONDS`` from
connecting to the last byte read), and records each attempt in a transaction of its own. A
worker that dies mid-batch leaves leases that expire; those deliveries are sent again with the
same ``webhook-id``, which receivers de-duplicate.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from math import floor
from typing import Any

import anyio
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
from patron.core.request_id import acting_for
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
# A batch of deliveries lasts at most this many delivery deadlines (see post_all).
BATCH_DEADLINES = 2
RESPONSE_BODY_LIMIT = 4096
USER_AGENT = f"Patron-Webhooks/{__version__}"
log = logging.getLogger("patron.webhooks.delivery")


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
    request_id: str | None = None  # of the request that caused the event, for the log lines


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
        # The lease covers a batch: its POSTs take at most BATCH_DEADLINES deadlines, then
        # each outcome is recorded.
        lease = timedelta(seconds=BATCH_DEADLINES * settings.webhook_timeout_seconds + 60)
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
                    event.request_id,
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


def _deadline_exceeded(deadline: float) -> str:
    return f"DeadlineExceeded: no complete answer within {deadline:g} s"


async def post(client: httpx.AsyncClient, job: Job, clock: Clock, deadline: float) -> Outcome:
    """POST one delivery, signed now, and read the answer, all within ``deadline`` seconds;
    never raises (a failure is the attempt's outcome).

    httpx's timeouts bound each read and write, so a receiver that trickles its answer a byte at
    a time never trips them; the deadline bounds the whole exchange (ADR 0041).
    """
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

    def took() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        with anyio.fail_after(deadline):
            async with client.stream(
                "POST", job.url, content=body.encode(), headers=headers
            ) as response:
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= RESPONSE_BODY_LIMIT:
                        break
        return Outcome(
            attempted_at,
            took(),
            status_code=response.status_code,
            body=_clean(received[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")),
            headers={k: _clean(v) for k, v in response.headers.items()},
        )
    except TimeoutError:  # the deadline (httpx's own timeouts are httpx.TimeoutException)
        return Outcome(attempted_at, took(), error=_deadline_exceeded(deadline))
    except Exception as exc:  # timeouts, refused connections, bad URLs: all are outcomes
        return Outcome(
            attempted_at, took(), error=_clean(f"{type(exc).__name__}: {exc}".rstrip(": "))
        )


async def post_all(jobs: list[Job], clock: Clock, deadline: float) -> list[Outcome | None]:
    """POST a batch: endpoints at once, each endpoint's jobs one after the other (a receiver
    gets no more connections than before), each within ``deadline``. A job is only started if
    it can finish within two deadlines of the batch's start; the others are left unattempted
    (``None``) for the next batch. So a batch takes at most about two deadlines, however slow
    its receivers (ADR 0041)."""
    outcomes: list[Outcome | None] = [None] * len(jobs)
    by_endpoint: dict[int, list[int]] = defaultdict(list)
    for n, job in enumerate(jobs):
        by_endpoint[job.endpoint_id].append(n)
    batch_ends = anyio.current_time() + BATCH_DEADLINES * deadline
    async with httpx.AsyncClient(
        timeout=deadline, follow_redirects=False, verify=_tls_context()
    ) as client:

        async def one_endpoint(indices: list[int]) -> None:
            for n in indices:
                if anyio.current_time() + deadline > batch_ends:
                    return
                outcomes[n] = await post(client, jobs[n], clock, deadline)

        async with anyio.create_task_group() as group:
            for indices in by_endpoint.values():
                group.start_soon(one_endpoint, indices)
    return outcomes


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
    outcomes = anyio.run(post_all, jobs, clock, settings.webhook_timeout_seconds)
    for job, outcome in zip(jobs, outcomes, strict=True):
        if outcome is not None:
            with acting_for(job.request_id):
                with transaction(sessions) as session:
                    record(session, job, outcome, settings.webhook_max_attempts)
                log.info(
                    "webhook delivery attempted",
                    extra={
                        "delivery_id": job.delivery_id,
                        "webhook_id": job.message_id,
                        "event_type": job.event_type,
                        "status_code": outcome.status_code,
                        "error": outcome.error,
                        "duration_ms": outcome.duration_ms,
                    },
                )
    unattempted = [
        job.delivery_id for job, outcome in zip(jobs, outcomes, strict=True) if outcome is None
    ]
    if unattempted:
        with transaction(sessions) as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(unattempted))
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
    return claimed
