"""The member's own data in the portal (ADR 1331): download it (JSON, or a zip of JSON and CSV
files), and ask to close the account (erased at once when the shop owes nothing, else queued for
staff, who see the requests on the dashboard's personal data requests page)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.http import SessionDep
from patron.portal import service as portal
from patron.privacy import own
from patron.web.auth import MemberDep, sign_out
from patron.web.portal.pages import VisitorDep
from patron.web.rendering import flash, render, translate

router = APIRouter(prefix="/portal")
NAV: list[object] = []


@router.post("/profile/data")
def download(
    request: Request,
    session: SessionDep,
    who: MemberDep,
    format: Annotated[Literal["json", "zip"], Form()] = "json",
) -> Response:
    """Everything the shop holds on me, as a file (at most three a day)."""
    try:
        document = own.download(session, who.merchant_id, who.member.id)
    except own.TooManyExports:
        session.rollback()
        flash(
            request,
            translate(
                request, "You can download your data three times a day. Please try tomorrow."
            ),
            "error",
        )
        return RedirectResponse("/portal/profile#my-data", status_code=303)
    if format == "zip":
        body, media, name = own.as_zip(document), "application/zip", "my-data.zip"
    else:
        body, media, name = own.as_json(document), "application/json", "my-data.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)


@router.get("/profile/close")
def close_page(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    owed = own.owes_stored_value(session, who.merchant_id, who.member.id)
    return render(request, "portal/close_account.html", {"owed": owed})


@router.post("/profile/close")
def close(
    request: Request,
    session: SessionDep,
    who: MemberDep,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Close my account once I ticked the box: erased now, or queued when stored value is owed."""
    if confirm != "yes":
        flash(
            request,
            translate(request, "Tick the box to confirm that you want to close your account."),
            "error",
        )
        return RedirectResponse("/portal/profile/close", status_code=303)
    row = own.close_account(session, who.merchant_id, who.member.id)
    if row.status == "erased":
        sign_out(request, session, portal.end_portal_session)
        return render(request, "portal/signed_out.html", {"signed_out": True, "closed": True})
    flash(
        request,
        translate(
            request,
            "We have your request. The shop will contact you to pay back your stored value, "
            "then close your account.",
        ),
    )
    return RedirectResponse("/portal/profile#my-data", status_code=303)
