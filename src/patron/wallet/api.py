"""Apple's PassKit web service (``webServiceURL`` = ``<base>/api/wallet``): devices register for
a pass's changes, list the serials changed since a tag, and fetch the latest pass.

The protocol is Apple's, not ours: it is left out of the OpenAPI document and documented in
docs/wallet.md. Calls about one pass carry ``Authorization: ApplePass <authenticationToken>``;
a wrong or missing token is 401, an unknown pass 404 (ADR 1330).
"""

from __future__ import annotations

import logging
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response

from patron.core.db import transaction
from patron.core.http import SessionDep, SettingsDep
from patron.wallet import apple, service

log = logging.getLogger("patron.wallet")
router = APIRouter(prefix="/api/wallet/v1", include_in_schema=False)
Auth = Annotated[str | None, Header(alias="Authorization")]


def _unauthorised() -> Response:
    return Response(status_code=401)


@router.post("/devices/{device_id}/registrations/{pass_type_id}/{serial}")
def register(
    device_id: str,
    pass_type_id: str,
    serial: str,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Auth = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    row, _found = service.find_pass(session, pass_type_id, serial)
    if not service.authorised(settings.secret_key, serial, authorization):
        return _unauthorised()
    push_token = (body or {}).get("pushToken")
    if not isinstance(push_token, str):
        return Response(status_code=400)
    created = service.register(session, row, device_id, push_token)
    return Response(status_code=201 if created else 200)


@router.delete("/devices/{device_id}/registrations/{pass_type_id}/{serial}")
def unregister(
    device_id: str,
    pass_type_id: str,
    serial: str,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Auth = None,
) -> Response:
    row, _found = service.find_pass(session, pass_type_id, serial)
    if not service.authorised(settings.secret_key, serial, authorization):
        return _unauthorised()
    service.unregister(session, row, device_id)
    return Response(status_code=200)


@router.get("/devices/{device_id}/registrations/{pass_type_id}")
def updated(
    device_id: str,
    pass_type_id: str,
    session: SessionDep,
    passesUpdatedSince: str | None = None,
) -> Response:
    serials, tag = service.updated_serials(session, device_id, pass_type_id, passesUpdatedSince)
    if not serials:
        return Response(status_code=204)
    return JSONResponse({"serialNumbers": serials, "lastUpdated": tag})


@router.get("/passes/{pass_type_id}/{serial}")
def latest_pass(
    request: Request,
    pass_type_id: str,
    serial: str,
    settings: SettingsDep,
    authorization: Auth = None,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    with transaction(request.app.state.sessions) as session:
        row, _found = service.find_pass(session, pass_type_id, serial)
        if not service.authorised(settings.secret_key, serial, authorization):
            return _unauthorised()
        changed = row.changed_at.replace(microsecond=0)
        last_modified = format_datetime(changed, usegmt=True)
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                since = None
            if since is not None and since.tzinfo is not None and changed <= since:
                return Response(status_code=304, headers={"Last-Modified": last_modified})
        body, _row = service.apple_pass(
            session,
            row.merchant_id,
            row.member_id,
            base_url=settings.base_url,
            secret=settings.secret_key,
        )
    return Response(
        body,
        media_type=apple.MEDIA_TYPE,
        headers={"Last-Modified": last_modified, "Cache-Control": "no-store"},
    )


@router.post("/log")
def device_log(body: Annotated[dict[str, Any] | None, Body()] = None) -> Response:
    """Wallet's error reports about our passes, written to the server log (first 20, cut)."""
    logs = (body or {}).get("logs")
    if isinstance(logs, list):
        for line in logs[:20]:
            log.warning("wallet device log", extra={"wallet_log": str(line)[:500]})
    return Response(status_code=200)
