"""Personal data on the dashboard's member page (owner and manager): download everything held
on the member, and erase the member on request after typing the member's number. The members'
own requests to close their account (from the portal, ADR 1331) are listed for managers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.http import SessionDep
from patron.i18n import N_
from patron.members.models import Member
from patron.privacy import own
from patron.privacy.erase import REASON_MAX, erase_member
from patron.privacy.export import export_member
from patron.privacy.models import MemberErasure
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep
from patron.web.nav import NavItem, Panel
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem(
        "privacy-requests",
        N_("Account closing requests"),
        "/privacy-requests",
        icon="shield",
        order=64,
        min_role=Role.MANAGER,
    )
]


@router.get("/privacy-requests")
def requests_page(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    """Members who asked in the portal to close their account: erased at once, or waiting for
    the shop to pay back their stored value and erase them from the member page."""
    rows = own.close_requests(session, staff.merchant_id)
    return render(request, "dashboard/privacy_requests.html", {"rows": rows})


def _panel(session: Session, merchant_id: int, member: Member) -> dict[str, Any]:
    erasure = session.scalar(
        select(MemberErasure).where(
            MemberErasure.merchant_id == merchant_id, MemberErasure.member_id == member.id
        )
    )
    return {"erasure": erasure, "reason_max": REASON_MAX}


MEMBER_PANELS = [Panel("privacy", "dashboard/members/_privacy.html", _panel, order=900)]


@router.get("/members/{member_id}/export.json")
def download_export(member_id: int, session: SessionDep, staff: ManagerPageDep) -> Response:
    """Everything held on the member, as the JSON file to hand over on an access request."""
    document = export_member(session, staff.merchant_id, member_id)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="member-{member_id}.json"'},
    )


@router.post("/members/{member_id}/erase")
def erase(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    confirm: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=REASON_MAX)] = "",
) -> Response:
    """Erase after the member's number was typed; the books stay as they are."""
    back = RedirectResponse(f"/members/{member_id}#privacy", status_code=303)
    if confirm.strip().lstrip("#") != str(member_id):
        flash(
            request,
            translate(
                request,
                "Not erased: type the member number %(number)s to confirm.",
                number=member_id,
            ),
            "error",
        )
        return back
    if not reason.strip():
        flash(request, translate(request, "Not erased: say why the member is erased."), "error")
        return back
    try:
        erase_member(session, staff.merchant_id, member_id, actor=staff.actor, reason=reason)
    except PatronError as exc:
        if exc.status_code == 404:
            raise
        flash(request, translate(request, "Not erased: %(reason)s", reason=exc.message), "error")
        return back
    flash(request, translate(request, "The member's personal data was erased."))
    return back
