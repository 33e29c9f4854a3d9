"""/api/v1: sign-in links to the member portal."""

from __future__ import annotations

from fastapi import APIRouter

from patron.core.http import PathId, SessionDep, SettingsDep
from patron.portal import service
from patron.portal.schemas import PortalLinkOut
from patron.tenancy.auth import ClerkDep

router = APIRouter(prefix="/api/v1", tags=["portal"])


@router.post(
    "/members/{member_id}/portal-link",
    response_model=PortalLinkOut,
    status_code=201,
    operation_id="create_portal_link",
)
def create_portal_link(
    member_id: PathId, session: SessionDep, settings: SettingsDep, principal: ClerkDep
) -> PortalLinkOut:
    """A single-use sign-in link (valid ``PATRON_PORTAL_LINK_MAX_AGE_SECONDS``) for the member."""
    issued = service.create_portal_link(
        session, principal.merchant_id, member_id, settings=settings
    )
    return PortalLinkOut(url=issued.url, expires_at=issued.expires_at)
