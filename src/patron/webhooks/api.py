"""/api/v1: webhook endpoints, deliveries (with replay) and the event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from patron.core.http import Page, PageDep, PathId, QueryId, SessionDep, page_of
from patron.tenancy.auth import ClerkDep, ManagerDep
from patron.webhooks import service
from patron.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventOut,
)

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


def _with_secret(endpoint: Any) -> EndpointWithSecret:
    return EndpointWithSecret(
        **EndpointOut.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get(
    "/webhook-endpoints", response_model=Page[EndpointOut], operation_id="list_webhook_endpoints"
)
def list_endpoints(session: SessionDep, principal: ClerkDep, page: PageDep) -> object:
    rows = service.list_endpoints(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, EndpointOut.model_validate)


@router.post(
    "/webhook-endpoints",
    response_model=EndpointWithSecret,
    status_code=201,
    operation_id="create_webhook_endpoint",
)
def create_endpoint(
    body: EndpointCreate, session: SessionDep, principal: ManagerDep
) -> EndpointWithSecret:
    endpoint = service.create_endpoint(
        session, principal.merchant_id, body.url, body.event_types, body.description, body.active
    )
    return _with_secret(endpoint)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    operation_id="get_webhook_endpoint",
)
def get_endpoint(endpoint_id: PathId, session: SessionDep, principal: ClerkDep) -> EndpointOut:
    return EndpointOut.model_validate(
        service.get_endpoint(session, principal.merchant_id, endpoint_id)
    )


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    operation_id="update_webhook_endpoint",
)
def update_endpoint(
    endpoint_id: PathId, body: EndpointUpdate, session: SessionDep, principal: ManagerDep
) -> EndpointOut:
    changes = body.model_dump(exclude_unset=True)
    endpoint = service.update_endpoint(session, principal.merchant_id, endpoint_id, changes)
    return EndpointOut.model_validate(endpoint)


@router.delete(
    "/webhook-endpoints/{endpoint_id}", status_code=204, operation_id="delete_webhook_endpoint"
)
def delete_endpoint(endpoint_id: PathId, session: SessionDep, principal: ManagerDep) -> Response:
    service.delete_endpoint(session, principal.merchant_id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    operation_id="rotate_webhook_secret",
)
def rotate_secret(
    endpoint_id: PathId, session: SessionDep, principal: ManagerDep
) -> EndpointWithSecret:
    return _with_secret(service.rotate_secret(session, principal.merchant_id, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    operation_id="test_webhook_endpoint",
)
def test_endpoint(endpoint_id: PathId, session: SessionDep, principal: ManagerDep) -> DeliveryOut:
    delivery = service.send_test_event(session, principal.merchant_id, endpoint_id)
    row = service.get_delivery(session, principal.merchant_id, delivery.id)
    return DeliveryOut.model_validate(row)


@router.get(
    "/webhook-deliveries",
    response_model=Page[DeliveryOut],
    operation_id="list_webhook_deliveries",
)
def list_deliveries(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    endpoint_id: QueryId = None,
    event_id: QueryId = None,
    status: Annotated[str | None, Query(description="pending, succeeded or failed")] = None,
    event_type: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    filters = service.DeliveryFilter(endpoint_id, event_id, status, event_type)
    rows = service.list_deliveries(session, principal.merchant_id, filters, page.limit, page.cursor)
    return page_of(rows, page.limit, DeliveryOut.model_validate)


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    operation_id="get_webhook_delivery",
)
def get_delivery(delivery_id: PathId, session: SessionDep, principal: ClerkDep) -> DeliveryDetail:
    row = service.get_delivery(session, principal.merchant_id, delivery_id)
    attempts = service.delivery_attempts(session, principal.merchant_id, delivery_id)
    return DeliveryDetail(
        **DeliveryOut.model_validate(row).model_dump(),
        attempts=[AttemptOut.model_validate(a) for a in attempts],
    )


@router.post(
    "/webhook-deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    status_code=202,
    operation_id="replay_webhook_delivery",
)
def replay_delivery(delivery_id: PathId, session: SessionDep, principal: ManagerDep) -> DeliveryOut:
    delivery = service.replay_delivery(session, principal.merchant_id, delivery_id)
    return DeliveryOut.model_validate(
        service.get_delivery(session, principal.merchant_id, delivery.id)
    )


@router.get("/events", response_model=Page[EventOut], operation_id="list_events")
def list_events(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    type: Annotated[str | None, Query(description="event type, e.g. order.created")] = None,
    subject_id: QueryId = None,
) -> dict[str, Any]:
    rows = service.list_events(
        session, principal.merchant_id, page.limit, page.cursor, type, subject_id
    )
    return page_of(rows, page.limit, EventOut.model_validate)
