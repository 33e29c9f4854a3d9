"""API shapes for webhook endpoints, deliveries, attempts and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EndpointCreate(BaseModel):
    url: str = Field(description="http:// or https:// URL that receives the POSTs")
    event_types: list[str] = Field(
        min_length=1, description="event type names, or ['*'] for every event"
    )
    description: str | None = Field(default=None, max_length=300)
    active: bool = True


class EndpointUpdate(BaseModel):
    url: str | None = None
    event_types: list[str] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    created_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="signing secret (whsec_…); shown on create and rotate-secret only"
    )


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    endpoint_id: int
    event_id: int
    event_type: str
    replay_of_id: int | None
    message_id: str = Field(description="the webhook-id header, stable across retries")
    status: str = Field(description="pending, succeeded or failed")
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    attempted_at: datetime
    status_code: int | None
    response_body: str | None = Field(description="the first 4 KB of the response body")
    response_headers: dict[str, str] | None
    error: str | None
    duration_ms: int


class DeliveryDetail(DeliveryOut):
    attempts: list[AttemptOut]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: str
    subject_id: int | None
    payload: dict[str, Any]
    occurred_at: datetime
    fanned_out_at: datetime | None
