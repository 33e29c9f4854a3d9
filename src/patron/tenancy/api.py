"""/api/v1: the merchant, its stores and its API keys."""

from __future__ import annotations

from fastapi import APIRouter

from patron.core.http import Page, PageDep, PathId, SessionDep, page_of
from patron.tenancy import service
from patron.tenancy.auth import ClerkDep, ManagerDep, OwnerDep
from patron.tenancy.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MerchantOut,
    StoreCreate,
    StoreOut,
)

router = APIRouter(prefix="/api/v1", tags=["merchant"])


@router.get("/merchant", response_model=MerchantOut, operation_id="get_merchant")
def get_merchant(session: SessionDep, principal: ClerkDep) -> MerchantOut:
    return MerchantOut.model_validate(service.get_merchant(session, principal.merchant_id))


@router.get("/stores", response_model=Page[StoreOut], operation_id="list_stores")
def list_stores(session: SessionDep, principal: ClerkDep, page: PageDep) -> object:
    rows = service.list_stores(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, StoreOut.model_validate)


@router.post("/stores", response_model=StoreOut, status_code=201, operation_id="create_store")
def create_store(body: StoreCreate, session: SessionDep, principal: ManagerDep) -> StoreOut:
    store = service.create_store(
        session, principal.merchant_id, body.code, body.name, body.channel, body.city
    )
    return StoreOut.model_validate(store)


@router.get("/stores/{store_id}", response_model=StoreOut, operation_id="get_store")
def get_store(store_id: PathId, session: SessionDep, principal: ClerkDep) -> StoreOut:
    return StoreOut.model_validate(service.get_store(session, principal.merchant_id, store_id))


@router.get("/api-keys", response_model=Page[ApiKeyOut], operation_id="list_api_keys")
def list_api_keys(session: SessionDep, principal: OwnerDep, page: PageDep) -> object:
    rows = service.list_api_keys(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, ApiKeyOut.model_validate)


@router.post(
    "/api-keys", response_model=ApiKeyCreated, status_code=201, operation_id="create_api_key"
)
def create_api_key(body: ApiKeyCreate, session: SessionDep, principal: OwnerDep) -> ApiKeyCreated:
    key, raw = service.create_api_key(session, principal.merchant_id, body.name, body.role)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=raw)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, operation_id="revoke_api_key")
def revoke_api_key(key_id: PathId, session: SessionDep, principal: OwnerDep) -> ApiKeyOut:
    return ApiKeyOut.model_validate(service.revoke_api_key(session, principal.merchant_id, key_id))
