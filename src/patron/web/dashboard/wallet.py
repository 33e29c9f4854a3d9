"""Wallet cards in the dashboard (managers): the Apple Wallet pass certificate and the Google
Wallet service account, and the devices that hold the shop's passes. Secrets are write-only
(ADR 0861): the page says "set", never the value; a blank box keeps what is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.errors import PatronError
from patron.core.http import SessionDep
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.wallet import service as wallet
from patron.web.auth import ManagerPageDep
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [
    NavItem(
        "wallet-settings",
        N_("Wallet cards"),
        "/wallet-settings",
        icon="ticket",
        order=62,
        min_role=Role.MANAGER,
    )
]
REFUSALS = {
    "wallet_apple_incomplete": N_(
        "The pass certificate, its private key and Apple's WWDR certificate are needed together."
    ),
    "wallet_cert": N_("The pass certificate is not a PEM certificate."),
    "wallet_wwdr": N_("The WWDR certificate is not a PEM certificate."),
    "wallet_key": N_("The private key does not read, or does not belong to the pass certificate."),
    "wallet_google_key": N_("The service account key is not an RSA private key in PEM form."),
}
Text = Annotated[str, Form(max_length=200)]
Pem = Annotated[str, Form(max_length=20000)]


@router.get("/wallet-settings")
def settings_page(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    row = wallet.settings_of(session, staff.merchant_id)
    creds = row.credentials if row else {}
    context = {
        "row": row,
        "is_set": {key: key in creds for key in wallet.SECRET_KEYS},
        "apple_ready": wallet.apple_ready(row),
        "google_ready": wallet.google_ready(row),
        "devices": wallet.registrations(session, staff.merchant_id),
    }
    return render(request, "dashboard/wallet.html", context)


@router.post("/wallet-settings")
def save(
    request: Request,
    session: SessionDep,
    staff: ManagerPageDep,
    apple_pass_type_id: Text = "",
    apple_team_id: Annotated[str, Form(max_length=20)] = "",
    google_issuer_id: Annotated[str, Form(max_length=40)] = "",
    google_service_account: Annotated[str, Form(max_length=254)] = "",
    apple_certificate: Pem = "",
    apple_key: Pem = "",
    apple_wwdr: Pem = "",
    google_key: Pem = "",
) -> Response:
    given = wallet.SettingsIn(
        apple_pass_type_id=apple_pass_type_id,
        apple_team_id=apple_team_id,
        google_issuer_id=google_issuer_id,
        google_service_account=google_service_account,
        apple_certificate=apple_certificate,
        apple_key=apple_key,
        apple_wwdr=apple_wwdr,
        google_key=google_key,
    )
    try:
        wallet.save_settings(session, staff.merchant_id, given)
        flash(request, translate(request, "Wallet settings saved."))
    except PatronError as exc:
        session.rollback()
        reason = translate(request, REFUSALS.get(exc.code, N_("The settings are not valid.")))
        flash(request, translate(request, "Not saved: %(reason)s", reason=reason), "error")
    return RedirectResponse("/wallet-settings", status_code=303)
